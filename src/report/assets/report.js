/* The report page's own script (plain JS, inlined into the HTML by src/report/writer.ts).
 * Data: one or two runs in <script type="application/json" id="report-data-N">, shape in src/report/model.ts.
 * Drawing: canvas for the timeline and the time-sequence graph (tens of thousands of marks),
 * uPlot for the state series. State the tests read: data-* attributes on the canvases. */
(function () {
  'use strict';

  var STEP = { start: 0, up: 1, down: 2, deferral: 3, deferredRun: 4, cleanup: 5, drop: 6, note: 7, query: 8 };
  var TF = { deferral: 1, cleanup: 2, drop: 4, expended: 8, piggyback: 16, queued: 32 };
  var SF = { retransmission: 1, piggyback: 2, syn: 4, fin: 8, rst: 16, lost: 32 };
  var C = {
    up: '#2563eb', down: '#ea580c', defer: '#0d9488', cleanup: '#7c3aed', drop: '#dc2626', piggy: '#f59e0b',
    ack: '#16a34a', win: '#a16207', lost: '#9ca3af', sack: '#9333ea', seg: '#111827', retx: '#dc2626', grid: '#eaeef2', text: '#1f2328', muted: '#656d76',
  };
  var GUTTER = 118, LANE_H = 17, HOST_GAP = 10, AXIS_H = 22, MARKS_H = 20, STEP_PX = 7;

  var runs = [];
  document.querySelectorAll('script[type="application/json"][id^="report-data-"]').forEach(function (s) {
    runs.push(JSON.parse(s.textContent));
  });
  var app = document.getElementById('app');
  app.textContent = '';
  var compare = runs.length > 1;
  document.documentElement.style.setProperty('--runs', String(runs.length));

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'class') e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    if (children) children.forEach(function (c) { if (c) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function fmtMs(t) {
    var a = Math.abs(t);
    if (a === 0) return '0 ms';
    if (a >= 10000) return (t / 1000).toFixed(a >= 100000 ? 1 : 2) + ' s';
    if (a >= 100) return t.toFixed(1) + ' ms';
    if (a >= 1) return t.toFixed(3) + ' ms';
    return (t * 1000).toFixed(1) + ' µs';
  }
  function fmtTick(t, step) {
    var d = Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)));
    if (step >= 1000 && Math.abs(t) >= 1000) return (t / 1000).toFixed(Math.max(0, 3 - Math.floor(Math.log10(step)))) + ' s';
    return t.toFixed(d) + ' ms';
  }
  function niceStep(span, n) {
    var raw = span / n, p = Math.pow(10, Math.floor(Math.log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
  }
  function lowerBound(arr, idx, v) { // idx: indexes sorted by arr value
    var lo = 0, hi = idx.length;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (arr[idx[mid]] < v) lo = mid + 1; else hi = mid; }
    return lo;
  }
  function lb(arr, v) {
    var lo = 0, hi = arr.length;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (arr[mid] < v) lo = mid + 1; else hi = mid; }
    return lo;
  }
  function fitCanvas(cv, cssH) {
    var dpr = window.devicePixelRatio || 1, w = cv.clientWidth || 800;
    cv.style.height = cssH + 'px';
    cv.width = Math.round(w * dpr); cv.height = Math.round(cssH * dpr);
    var ctx = cv.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return { ctx: ctx, w: w, h: cssH };
  }

  // ---- per run preparation
  runs.forEach(function (r) {
    var n = r.tasks.id.length;
    r.order = new Array(n);
    for (var i = 0; i < n; i++) r.order[i] = i;
    r.order.sort(function (a, b) { return r.tasks.start[a] - r.tasks.start[b]; });
    r.framesOf = {};
    for (var f = 0; f < r.frames.t.length; f++) {
      var t = r.frames.task[f];
      if (t >= 0) (r.framesOf[t] = r.framesOf[t] || []).push(f);
    }
    // Lane positions: hosts stacked, a gap between them.
    r.laneY = []; var y = MARKS_H + 4, prevHost = -1;
    r.lanes.forEach(function (l, i) {
      if (prevHost !== -1 && l.host !== prevHost) y += HOST_GAP;
      prevHost = l.host; r.laneY[i] = y; y += LANE_H;
    });
    r.tlHeight = y + AXIS_H;
    // Detail covers the tasks up to the last one of the first, unbroken stretch.
    var covered = r.tasks.total <= n ? Infinity : 0;
    if (covered === 0) { for (var k = 0; k < n; k++) if (!(r.tasks.flags[k] & 15)) covered = Math.max(covered, r.tasks.start[k]); }
    r.detailUntil = covered;
  });

  function before(r) {
    var n = 0;
    r.counters.forEach(function (h) { n += h.tasksBeforeReport || 0; });
    return n ? ' (and ' + n + ' that assembled the hosts before the report began)' : '';
  }

  // ---- header notes
  var meta = document.getElementById('meta');
  runs.forEach(function (r, i) {
    var p = el('p', { class: 'meta' }, [
      (compare ? (i === 0 ? 'A: ' : 'B: ') : '') + r.kind + (r.command ? ' · ' + r.command : '') +
        ' · ' + r.hosts.length + ' host' + (r.hosts.length > 1 ? 's' : '') + ', ' + r.tasks.total + ' tasks' + before(r) + ', ' + r.frames.total + ' frames, ' +
        r.conns.length + ' TCP connection' + (r.conns.length === 1 ? '' : 's') + ', ' + fmtMs(r.t1 - r.t0) + ' of run time',
    ]);
    meta.parentNode.appendChild(p);
    if (r.limits.length) meta.parentNode.appendChild(el('p', { class: 'meta limits', text: 'Bounded: ' + r.limits.join('; ') + '.' }));
    else if (i === 0 && r.caps) meta.appendChild(document.createTextNode(' Its size is bounded whatever the run: ' + r.caps + '.'));
  });

  // ---- shared time view of the timelines (runs aligned on their own clocks: both start at their t0)
  var T0 = Math.min.apply(null, runs.map(function (r) { return r.t0; }));
  var T1 = Math.max.apply(null, runs.map(function (r) { return r.t1; }));
  if (!(T1 > T0)) T1 = T0 + 1;
  var pad = (T1 - T0) * 0.01;
  var view = { a: T0 - pad, b: T1 + pad };
  var timelines = [];
  var selected = null; // { run, row }

  function setView(a, b) {
    var minSpan = 0.001;
    if (b - a < minSpan) { var m = (a + b) / 2; a = m - minSpan / 2; b = m + minSpan / 2; }
    var full = T1 - T0 + 2 * pad;
    if (b - a > full * 4) { a = T0 - pad; b = T1 + pad; }
    view.a = a; view.b = b;
    timelines.forEach(function (t) { t.draw(); });
    readout.textContent = 'showing ' + fmtMs(view.a) + ' … ' + fmtMs(view.b) + ' (' + fmtMs(view.b - view.a) + ')';
  }

  // ---- timeline section
  var secTl = el('section', { class: 'panel', id: 'timeline-section' });
  app.appendChild(secTl);
  secTl.appendChild(el('h2', { text: 'Tasks through the modules (one lane per module per host; up = upcall, down = call down)' }));
  var readout = el('span', { class: 'readout', id: 'readout' });
  var zoomIn = el('button', { id: 'zoom-in', title: 'zoom in (or the mouse wheel)', text: '+' });
  var zoomOut = el('button', { id: 'zoom-out', title: 'zoom out', text: '−' });
  var zoomReset = el('button', { id: 'zoom-reset', text: 'whole run' });
  var legend = el('span', { class: 'legend' });
  [['up', 'upcall'], ['down', 'call down'], ['defer', 'deferral ▲ / deferred run ▼'], ['cleanup', 'cleanup ■'], ['drop', 'drop ✕ / expended ◯'], ['piggy', 'sent a piggybacked ACK']].forEach(function (x) {
    var i = el('i'); i.style.background = C[x[0]]; legend.appendChild(el('span', null, [i, x[1]]));
  });
  secTl.appendChild(el('div', { class: 'toolbar' }, [zoomIn, zoomOut, zoomReset, readout, legend]));
  var grid = el('div', { class: 'tl-grid' });
  var left = el('div'), aside = el('aside', { class: 'transcript', id: 'transcript' });
  grid.appendChild(left); grid.appendChild(aside);
  secTl.appendChild(grid);
  var detail = el('div', { class: 'detail', id: 'task-detail' }, [el('span', { class: 'hint', text: 'Zoom in (wheel, or drag to pan) until tasks are drawn one by one, then click a task to see its path, its frames and its timing.' })]);
  secTl.appendChild(detail);

  runs.forEach(function (r, ri) {
    aside.appendChild(el('h3', { text: (compare ? (ri === 0 ? 'A · ' : 'B · ') : '') + 'Telnet transcript' }));
    aside.appendChild(el('pre', { class: 'transcript-text', text: r.transcript || '(no Telnet session in this run)' }));
    var box = el('div', { class: 'tl-run' });
    if (compare) box.appendChild(el('div', { class: 'caption', text: (ri === 0 ? 'A · ' : 'B · ') + r.title }));
    var cv = el('canvas', { class: 'timeline', 'data-run': String(ri), 'data-lanes': String(r.lanes.length), role: 'img', 'aria-label': 'timeline of the tasks of ' + r.title + ': one lane per module per host' });
    box.appendChild(cv);
    left.appendChild(box);
    timelines.push(makeTimeline(r, ri, cv));
  });

  function makeTimeline(r, ri, cv) {
    var hits = [];
    var tl = { run: r, canvas: cv, mode: '', draw: draw, hits: hits };
    function X(t, w) { return GUTTER + ((t - view.a) / (view.b - view.a)) * (w - GUTTER - 8); }
    function T(x, w) { return view.a + ((x - GUTTER) / (w - GUTTER - 8)) * (view.b - view.a); }
    function mid(lane) { return r.laneY[lane] + LANE_H / 2; }

    function draw() {
      var f = fitCanvas(cv, r.tlHeight), ctx = f.ctx, w = f.w, plotW = w - GUTTER - 8;
      ctx.clearRect(0, 0, w, f.h);
      // lanes
      ctx.font = '11px system-ui, sans-serif'; ctx.textBaseline = 'middle';
      r.lanes.forEach(function (l, i) {
        ctx.fillStyle = i % 2 ? '#fbfcfd' : '#f3f5f7';
        ctx.fillRect(GUTTER, r.laneY[i], plotW, LANE_H);
        ctx.fillStyle = C.muted; ctx.textAlign = 'right';
        var first = i === 0 || r.lanes[i - 1].host !== l.host;
        ctx.fillText((first ? r.hosts[l.host] + ' · ' : '') + l.module, GUTTER - 6, mid(i));
      });
      ctx.fillStyle = C.muted; ctx.textAlign = 'right'; ctx.fillText('marks', GUTTER - 6, MARKS_H / 2 + 2);
      // time axis
      var step = niceStep(view.b - view.a, Math.max(2, plotW / 110)), axisY = f.h - AXIS_H;
      ctx.strokeStyle = C.grid; ctx.fillStyle = C.muted; ctx.textAlign = 'center'; ctx.lineWidth = 1;
      for (var t = Math.ceil(view.a / step) * step; t <= view.b; t += step) {
        var x = Math.round(X(t, w)) + 0.5;
        ctx.beginPath(); ctx.moveTo(x, MARKS_H); ctx.lineTo(x, axisY); ctx.stroke();
        ctx.fillText(fmtTick(t, step), x, axisY + 11);
      }
      ctx.save(); ctx.beginPath(); ctx.rect(GUTTER, 0, plotW, f.h); ctx.clip();
      drawMarks(ctx, w, plotW);
      // detail or aggregate?
      var margin = (40 * STEP_PX / plotW) * (view.b - view.a);
      var lo = lowerBound(r.tasks.start, r.order, view.a - margin), hi = lowerBound(r.tasks.start, r.order, view.b);
      var visible = hi - lo;
      var detailOk = view.b <= r.detailUntil || r.detailUntil === Infinity;
      hits.length = 0;
      if (visible * STEP_PX * 2.5 <= plotW * 1.5 && detailOk) {
        tl.mode = 'detail';
        var drawn = 0;
        for (var k = lo; k < hi; k++) { if (drawTask(ctx, w, r.order[k])) drawn++; }
        cv.dataset.tasksDrawn = String(drawn);
      } else {
        tl.mode = 'aggregate';
        cv.dataset.tasksDrawn = '0';
        drawAggregate(ctx, w, plotW);
      }
      ctx.restore();
      ctx.fillStyle = C.muted; ctx.textAlign = 'right'; ctx.textBaseline = 'middle'; ctx.font = '11px system-ui, sans-serif';
      ctx.fillText(tl.mode === 'detail' ? (cv.dataset.tasksDrawn + ' tasks drawn one by one') : 'aggregate: tasks per pixel column, darker = more (zoom in for single tasks)', w - 10, MARKS_H / 2 + 2);
      cv.dataset.mode = tl.mode;
      cv.dataset.viewA = String(view.a); cv.dataset.viewB = String(view.b);
    }

    function drawMarks(ctx, w, plotW) {
      var a = r.agg, bw = (a.t1 - a.t0) / a.bins || 1;
      var rows = [['piggyback', C.piggy], ['deferral', C.defer], ['cleanup', C.cleanup], ['drop', C.drop], ['expended', C.drop]];
      var b0 = Math.max(0, Math.floor((view.a - a.t0) / bw)), b1 = Math.min(a.bins, Math.ceil((view.b - a.t0) / bw) + 1);
      rows.forEach(function (row, ri2) {
        var arr = a[row[0]], y = 2 + ri2 * 3.4;
        ctx.fillStyle = row[1];
        for (var b = b0; b < b1; b++) {
          if (!arr[b]) continue;
          var x0 = X(a.t0 + b * bw, w), x1 = X(a.t0 + (b + 1) * bw, w);
          ctx.fillRect(x0, y, Math.max(1.5, x1 - x0), 3);
        }
      });
    }

    function drawAggregate(ctx, w, plotW) {
      var a = r.agg, bw = (a.t1 - a.t0) / a.bins || 1, L = r.lanes.length;
      var b0 = Math.max(0, Math.floor((view.a - a.t0) / bw)), b1 = Math.min(a.bins, Math.ceil((view.b - a.t0) / bw) + 1);
      var cols = [], max = 0, W = Math.ceil(plotW);
      for (var l = 0; l < L; l++) {
        var c = new Float64Array(W);
        for (var b = b0; b < b1; b++) {
          var n = a.lane[l * a.bins + b];
          if (!n) continue;
          var x0 = X(a.t0 + b * bw, w) - GUTTER, x1 = X(a.t0 + (b + 1) * bw, w) - GUTTER;
          var c0 = Math.max(0, Math.floor(x0)), c1 = Math.min(W, Math.max(c0 + 1, Math.ceil(x1)));
          for (var x = c0; x < c1; x++) { c[x] += n; if (c[x] > max) max = c[x]; }
        }
        cols.push(c);
      }
      var lm = Math.log1p(max || 1);
      for (var l2 = 0; l2 < L; l2++) {
        var cc = cols[l2], y = r.laneY[l2] + 2;
        for (var x2 = 0; x2 < W; x2++) {
          if (!cc[x2]) continue;
          ctx.fillStyle = 'rgba(37,99,235,' + (0.18 + 0.82 * Math.log1p(cc[x2]) / lm).toFixed(3) + ')';
          ctx.fillRect(GUTTER + x2, y, 1, LANE_H - 4);
        }
      }
    }

    function mark(ctx, kind, x, y) {
      ctx.save();
      if (kind === STEP.deferral || kind === STEP.deferredRun) {
        ctx.fillStyle = C.defer; ctx.beginPath();
        if (kind === STEP.deferral) { ctx.moveTo(x, y - 6); ctx.lineTo(x - 4, y + 1); ctx.lineTo(x + 4, y + 1); }
        else { ctx.moveTo(x, y + 6); ctx.lineTo(x - 4, y - 1); ctx.lineTo(x + 4, y - 1); }
        ctx.fill();
      } else if (kind === STEP.cleanup) {
        ctx.fillStyle = C.cleanup; ctx.fillRect(x - 3.5, y - 3.5, 7, 7);
      } else if (kind === STEP.drop) {
        ctx.strokeStyle = C.drop; ctx.lineWidth = 2; ctx.beginPath();
        ctx.moveTo(x - 4, y - 4); ctx.lineTo(x + 4, y + 4); ctx.moveTo(x + 4, y - 4); ctx.lineTo(x - 4, y + 4); ctx.stroke();
      } else if (kind === STEP.query) {
        ctx.strokeStyle = C.down; ctx.lineWidth = 1; ctx.beginPath(); ctx.arc(x, y, 2.5, 0, 7); ctx.stroke();
      } else if (kind === STEP.note) {
        ctx.fillStyle = C.muted; ctx.beginPath(); ctx.arc(x, y, 1.6, 0, 7); ctx.fill();
      }
      ctx.restore();
    }

    function drawTask(ctx, w, row) {
      var s0 = r.tasks.stepStart[row], s1 = r.tasks.stepStart[row + 1];
      if (s1 <= s0) return false;
      var flags = r.tasks.flags[row];
      var x = X(r.tasks.start[row], w), lane = r.steps.lane[s0], y = mid(lane);
      var x0 = x, yMin = y, yMax = y, moves = 0;
      for (var s = s0 + 1; s < s1; s++) { var k = r.steps.kind[s]; if (k === STEP.up || k === STEP.down || k === STEP.deferredRun) moves++; }
      var x1 = x0 + moves * STEP_PX;
      for (var s2 = s0; s2 < s1; s2++) { var yy = mid(r.steps.lane[s2]); if (yy < yMin) yMin = yy; if (yy > yMax) yMax = yy; }
      var isSel = selected && selected.run === r && selected.row === row;
      if (flags & TF.piggyback) { ctx.fillStyle = 'rgba(245,158,11,0.28)'; ctx.fillRect(x0 - 3, yMin - 7, x1 - x0 + 6, yMax - yMin + 14); }
      if (isSel) { ctx.strokeStyle = '#111'; ctx.lineWidth = 1; ctx.setLineDash([3, 2]); ctx.strokeRect(x0 - 5, yMin - 9, x1 - x0 + 10, yMax - yMin + 18); ctx.setLineDash([]); }
      ctx.fillStyle = C.text; ctx.beginPath(); ctx.arc(x, y, 2.5, 0, 7); ctx.fill();
      ctx.lineWidth = isSel ? 2.6 : 1.6;
      for (var s3 = s0 + 1; s3 < s1; s3++) {
        var kind = r.steps.kind[s3], ln = r.steps.lane[s3];
        if (kind === STEP.up || kind === STEP.down || kind === STEP.deferredRun) {
          var ny = mid(ln), nx = x + STEP_PX;
          ctx.strokeStyle = kind === STEP.up ? C.up : kind === STEP.down ? C.down : C.defer;
          ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(nx, ny); ctx.stroke();
          if (kind === STEP.deferredRun) mark(ctx, kind, nx, ny);
          x = nx; y = ny;
        } else if (kind !== STEP.start) {
          mark(ctx, kind, x + 2, mid(ln));
        }
      }
      if (flags & TF.expended) { ctx.strokeStyle = C.drop; ctx.lineWidth = 2; ctx.beginPath(); ctx.arc(x, y, 5, 0, 7); ctx.stroke(); }
      hits.push({ row: row, x0: x0 - 4, x1: x1 + 4, y0: yMin - 8, y1: yMax + 8 });
      return true;
    }

    // interaction: wheel zooms about the pointer, drag pans, a click picks a task (or zooms in on aggregates)
    cv.addEventListener('wheel', function (ev) {
      ev.preventDefault();
      var rect = cv.getBoundingClientRect(), t = T(ev.clientX - rect.left, rect.width);
      var k = Math.pow(1.0015, ev.deltaY);
      setView(t - (t - view.a) * k, t + (view.b - t) * k);
    }, { passive: false });
    var drag = null;
    cv.addEventListener('mousemove', function (ev) {
      if (drag || tl.mode !== 'detail') { cv.title = ''; return; }
      var rect = cv.getBoundingClientRect(), x = ev.clientX - rect.left, y = ev.clientY - rect.top;
      var h = pick(x, y);
      cv.title = h ? 'task #' + r.tasks.id[h.row] + ' on ' + r.hosts[r.tasks.host[h.row]] + ' (' + r.strings[r.tasks.source[h.row]] + ') at ' + fmtMs(r.tasks.start[h.row]) + ' — click for its path and frames' : '';
    });
    function pick(x, y) {
      var best = null, bestD = Infinity;
      hits.forEach(function (h) {
        if (x < h.x0 || x > h.x1 || y < h.y0 || y > h.y1) return;
        var dd = Math.abs(x - (h.x0 + h.x1) / 2);
        if (dd < bestD) { bestD = dd; best = h; }
      });
      return best;
    }
    cv.addEventListener('mousedown', function (ev) { drag = { x: ev.clientX, a: view.a, b: view.b, moved: false }; cv.classList.add('dragging'); });
    window.addEventListener('mousemove', function (ev) {
      if (!drag) return;
      var dx = ev.clientX - drag.x;
      if (Math.abs(dx) > 3) drag.moved = true;
      if (!drag.moved) return;
      var rect = cv.getBoundingClientRect(), dt = (dx / (rect.width - GUTTER - 8)) * (drag.b - drag.a);
      setView(drag.a - dt, drag.b - dt);
    });
    window.addEventListener('mouseup', function (ev) {
      if (!drag) return;
      var d = drag; drag = null; cv.classList.remove('dragging');
      if (d.moved) return;
      var rect = cv.getBoundingClientRect(), x = ev.clientX - rect.left, y = ev.clientY - rect.top;
      if (tl.mode === 'aggregate') {
        var t = T(x, rect.width), span = (view.b - view.a) / 6;
        setView(t - span / 2, t + span / 2);
        return;
      }
      var best = pick(x, y);
      if (best) {
        selected = { run: r, row: best.row };
        showTask(r, ri, best.row);
        timelines.forEach(function (t2) { t2.draw(); });
        tcpViews.forEach(function (v) { v.draw(); });
      }
    });
    return tl;
  }

  function stepText(r, s) {
    var k = r.steps.kind[s], lane = r.lanes[r.steps.lane[s]], m = lane ? lane.module : '?';
    var from = r.steps.from[s] >= 0 ? r.lanes[r.steps.from[s]].module : '(outside)';
    var tx = r.steps.text[s] >= 0 ? r.strings[r.steps.text[s]] : '';
    switch (k) {
      case STEP.start: return ['start', 'task starts: ' + tx + ' at ' + m];
      case STEP.up: return ['up', from + ' ⇒ ' + m + '.' + tx + '  (upcall)'];
      case STEP.down: return ['down', from + ' → ' + m + '.' + tx + '  (call down)'];
      case STEP.deferral: return ['defer', from + ' → ' + m + '.' + tx + '  deferred until the upcall returns'];
      case STEP.deferredRun: return ['defer', m + '.' + tx + ' runs (deferred)'];
      case STEP.cleanup: return ['cleanup', 'cleanup in ' + m + ': ' + tx];
      case STEP.drop: return ['drop', m + ' drops: ' + tx];
      case STEP.query: return ['down', from + ' → ' + m + '.' + tx + '  (query: read-only, no activation)'];
      default: return ['note', m + ': ' + tx];
    }
  }

  function showTask(r, ri, row) {
    detail.textContent = '';
    var fl = r.tasks.flags[row], src = r.strings[r.tasks.source[row]];
    var h = el('h3', { id: 'task-title', text: (compare ? (ri === 0 ? 'A · ' : 'B · ') : '') + 'Task #' + r.tasks.id[row] + ' on ' + r.hosts[r.tasks.host[row]] + ' (' + src + ')' });
    if (fl & TF.piggyback) h.appendChild(el('span', { class: 'badge piggy', text: 'sent a piggybacked ACK' }));
    if (fl & TF.expended) h.appendChild(el('span', { class: 'badge bad', text: 'expended: ' + (r.tasks.reason[row] >= 0 ? r.strings[r.tasks.reason[row]] : '') }));
    if (fl & TF.deferral) h.appendChild(el('span', { class: 'badge', text: 'deferral' }));
    if (fl & TF.cleanup) h.appendChild(el('span', { class: 'badge', text: 'cleanup' }));
    if (fl & TF.drop) h.appendChild(el('span', { class: 'badge bad', text: 'drop' }));
    detail.appendChild(h);
    var s0 = r.tasks.stepStart[row], s1 = r.tasks.stepStart[row + 1];
    var start = r.tasks.start[row], end = r.tasks.end[row];
    var slots = [];
    for (var s = s0; s < s1; s++) if (r.steps.kind[s] === STEP.up) slots.push(r.lanes[r.steps.lane[s]].module + '.' + r.strings[r.steps.text[s]]);
    detail.appendChild(el('p', { text: 'Started ' + fmtMs(start) + ', ended ' + fmtMs(end) + ' (' + fmtMs(end - start) + ' on the run\'s clock: the time the task took on a real clock; a simulated clock stands still while a task runs, so 0 there). ' +
      (s1 - s0) + ' steps; slots: ' + (slots.length ? slots.join(', ') : 'none') + '.' }));
    var tb = el('table', { id: 'task-steps' });
    for (var s2 = s0; s2 < s1; s2++) {
      var st = stepText(r, s2);
      tb.appendChild(el('tr', null, [el('td', { text: fmtMs(start + r.steps.at[s2]) }), el('td', { class: 'k-' + st[0], text: st[1] })]));
    }
    detail.appendChild(tb);
    var frames = r.framesOf[row] || [];
    detail.appendChild(el('h3', { text: frames.length ? 'Frames (' + frames.length + ')' : 'No frame received or sent by this task' }));
    frames.forEach(function (fi) {
      var piggy = (r.frames.flags[fi] & SF.piggyback) !== 0;
      var box = el('div', { class: 'frame ' + (r.frames.dir[fi] ? 'tx' : 'rx') + (piggy ? ' piggy' : '') }, [
        el('b', { text: (r.frames.dir[fi] ? 'sent' : 'received') + ' at ' + fmtMs(r.frames.t[fi]) + ', ' + r.frames.size[fi] + ' bytes' + (piggy ? ' — data and the ACK of what was received, in one segment (piggybacked)' : '') }),
        el('pre', { text: r.frames.text[fi] }),
      ]);
      detail.appendChild(box);
    });
  }

  zoomIn.onclick = function () { var m = (view.a + view.b) / 2, s = (view.b - view.a) / 4; setView(m - s, m + s); };
  zoomOut.onclick = function () { var m = (view.a + view.b) / 2, s = view.b - view.a; setView(m - s, m + s); };
  zoomReset.onclick = function () { setView(T0 - pad, T1 + pad); };

  // ---- TCP section
  var secTcp = el('section', { class: 'panel', id: 'tcp-section' });
  app.appendChild(secTcp);
  secTcp.appendChild(el('h2', { text: 'TCP per connection: time-sequence graph (Stevens / tcptrace) and the sender\'s state' }));
  var tlegend = el('div', { class: 'legend' });
  [['seg', 'data segment (seq … seq+len)'], ['retx', 'retransmission ▼'], ['lost', 'lost on the link (sent, never received) ✕'], ['piggy', 'carried a piggybacked ACK'], ['ack', 'ACK line'], ['win', 'receive window edge'], ['sack', 'SACK block']].forEach(function (x) {
    var i = el('i'); i.style.background = C[x[0]]; tlegend.appendChild(el('span', null, [i, x[1]]));
  });
  secTcp.appendChild(tlegend);
  var tcpCols = el('div', { class: 'cols' });
  secTcp.appendChild(tcpCols);
  var tcpViews = [];
  runs.forEach(function (r, ri) {
    var box = el('div', { class: 'tcp-run', 'data-run': String(ri) });
    tcpCols.appendChild(box);
    if (compare) box.appendChild(el('div', { class: 'caption', text: (ri === 0 ? 'A · ' : 'B · ') + r.title }));
    if (!r.conns.length) { box.appendChild(el('p', { class: 'hint', text: 'No TCP connection in this run.' })); return; }
    tcpViews.push(makeTcp(r, ri, box));
  });

  function makeTcp(r, ri, box) {
    var sel = el('select', { class: 'conn-select' });
    var best = 0, bestN = -1;
    r.conns.forEach(function (c, ci) {
      c.dirs.forEach(function (d, di) {
        var o = el('option', { value: ci + ':' + di, text: d.from + ' → ' + d.to + ' (' + d.seg.t.length + ' segments, ' + d.bytes + ' bytes' + (d.truncated ? ', truncated' : '') + ')' });
        sel.appendChild(o);
        if (d.bytes > bestN) { bestN = d.bytes; best = ci * 2 + di; }
      });
    });
    sel.selectedIndex = best;
    box.appendChild(el('label', null, ['direction: ', sel]));
    var cv = el('canvas', { class: 'tseq', 'data-run': String(ri), role: 'img', 'aria-label': 'time-sequence graph of the chosen direction' });
    box.appendChild(cv);
    var charts = el('div');
    box.appendChild(charts);
    var segHits = [];
    var tv = { run: r, canvas: cv, dir: null, a: 0, b: 1, plots: [], draw: draw, select: select, segHits: segHits };
    var syncing = false;

    function select() {
      var p = sel.value.split(':'), d = r.conns[+p[0]].dirs[+p[1]];
      tv.dir = d;
      var a = Infinity, b = -Infinity;
      [d.seg.t, d.ack.t].forEach(function (arr) { for (var i = 0; i < arr.length; i++) { if (arr[i] < a) a = arr[i]; if (arr[i] > b) b = arr[i]; } });
      if (!isFinite(a)) { a = r.t0; b = r.t1; }
      if (!(b > a)) b = a + 1;
      var pd = (b - a) * 0.02;
      tv.a = a - pd; tv.b = b + pd;
      cv.dataset.total = String(d.seg.t.length);
      buildCharts(d);
      draw();
    }

    function setRange(a, b, fromPlot) {
      tv.a = a; tv.b = b; draw();
      if (fromPlot) return;
      syncing = true;
      tv.plots.forEach(function (u) { u.setScale('x', { min: a, max: b }); });
      syncing = false;
    }
    tv.setRange = setRange;

    function draw() {
      var d = tv.dir; if (!d) return;
      var f = fitCanvas(cv, 300), ctx = f.ctx, w = f.w, h = f.h, L = 62, R = 10, Tp = 8, B = 22;
      var pw = w - L - R, ph = h - Tp - B;
      ctx.clearRect(0, 0, w, h);
      var i0 = lb(d.seg.t, tv.a), i1 = lb(d.seg.t, tv.b + 1e-9);
      var j0 = Math.max(0, lb(d.ack.t, tv.a) - 1), j1 = Math.min(d.ack.t.length, lb(d.ack.t, tv.b + 1e-9) + 1);
      var ymin = Infinity, ymax = -Infinity;
      for (var i = i0; i < i1; i++) { ymin = Math.min(ymin, d.seg.seq[i]); ymax = Math.max(ymax, d.seg.seq[i] + d.seg.len[i]); }
      for (var j = j0; j < j1; j++) { ymin = Math.min(ymin, d.ack.ack[j]); ymax = Math.max(ymax, d.ack.ack[j]); }
      if (!(ymax > ymin)) { ymin = (isFinite(ymin) ? ymin : 0) - 1; ymax = ymin + 2; }
      // The window edge is drawn in full only when it stays near the data; a wide-open window would flatten everything else.
      var wmax = -Infinity;
      for (var jw = j0; jw < j1; jw++) wmax = Math.max(wmax, d.ack.win[jw]);
      var winClipped = wmax > ymax + (ymax - ymin) * 0.6;
      if (!winClipped && wmax > ymax) ymax = wmax;
      else if (winClipped) ymax += (ymax - ymin) * 0.08;
      var yp = (ymax - ymin) * 0.04; ymin -= yp; ymax += yp;
      function X(t) { return L + ((t - tv.a) / (tv.b - tv.a)) * pw; }
      function Y(v) { return Tp + ph - ((v - ymin) / (ymax - ymin)) * ph; }
      // axes
      ctx.font = '11px system-ui, sans-serif'; ctx.fillStyle = C.muted; ctx.strokeStyle = C.grid; ctx.lineWidth = 1;
      var xs = niceStep(tv.b - tv.a, Math.max(2, pw / 110));
      ctx.textAlign = 'center'; ctx.textBaseline = 'alphabetic';
      for (var t = Math.ceil(tv.a / xs) * xs; t <= tv.b; t += xs) { var x = Math.round(X(t)) + 0.5; ctx.beginPath(); ctx.moveTo(x, Tp); ctx.lineTo(x, Tp + ph); ctx.stroke(); ctx.fillText(fmtTick(t, xs), x, h - 6); }
      var ys = niceStep(ymax - ymin, 6); ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
      for (var v = Math.ceil(ymin / ys) * ys; v <= ymax; v += ys) { var y = Math.round(Y(v)) + 0.5; ctx.beginPath(); ctx.moveTo(L, y); ctx.lineTo(L + pw, y); ctx.stroke(); ctx.fillText(String(Math.round(v)), L - 4, y); }
      ctx.save(); ctx.translate(12, Tp + ph / 2); ctx.rotate(-Math.PI / 2); ctx.textAlign = 'center'; ctx.fillText('relative sequence number', 0, 0); ctx.restore();
      ctx.save(); ctx.beginPath(); ctx.rect(L, Tp, pw, ph); ctx.clip();
      // ACK line and window edge, as steps
      function steps(vals, color) {
        if (j1 <= j0) return;
        ctx.strokeStyle = color; ctx.lineWidth = 1.3; ctx.beginPath();
        for (var j2 = j0; j2 < j1; j2++) {
          var x2 = X(d.ack.t[j2]), y2 = Y(vals[j2]);
          if (j2 === j0) ctx.moveTo(x2, y2); else ctx.lineTo(x2, y2);
          var xn = j2 + 1 < d.ack.t.length ? X(d.ack.t[j2 + 1]) : L + pw;
          ctx.lineTo(xn, y2);
        }
        ctx.stroke();
      }
      steps(d.ack.win, C.win);
      steps(d.ack.ack, C.ack);
      // SACK blocks
      ctx.strokeStyle = C.sack; ctx.lineWidth = 2;
      for (var k = 0; k + 2 < d.sack.length; k += 3) {
        if (d.sack[k] < tv.a || d.sack[k] > tv.b) continue;
        var xk = X(d.sack[k]) + 2; ctx.beginPath(); ctx.moveTo(xk, Y(d.sack[k + 1])); ctx.lineTo(xk, Y(d.sack[k + 2])); ctx.stroke();
      }
      // segments
      var drawn = 0;
      segHits.length = 0;
      for (var i2 = i0; i2 < i1; i2++) {
        var kind = d.seg.kind[i2], xx = X(d.seg.t[i2]), ya = Y(d.seg.seq[i2]), yb = Y(d.seg.seq[i2] + Math.max(d.seg.len[i2], 0));
        if (kind & SF.piggyback) { ctx.fillStyle = 'rgba(245,158,11,0.45)'; ctx.fillRect(xx - 4, yb - 4, 8, ya - yb + 8); }
        ctx.strokeStyle = kind & SF.retransmission ? C.retx : C.seg; ctx.lineWidth = kind & SF.retransmission ? 2 : 1.2;
        if (kind & SF.lost) { ctx.strokeStyle = '#9ca3af'; ctx.setLineDash([2, 2]); }
        ctx.beginPath();
        if (d.seg.len[i2] > 0) {
          ctx.moveTo(xx, ya); ctx.lineTo(xx, yb);
          ctx.moveTo(xx - 2.5, ya); ctx.lineTo(xx + 2.5, ya); ctx.moveTo(xx - 2.5, yb); ctx.lineTo(xx + 2.5, yb);
        } else { ctx.moveTo(xx - 3, ya); ctx.lineTo(xx, ya - 3); ctx.lineTo(xx + 3, ya); ctx.lineTo(xx, ya + 3); ctx.closePath(); }
        ctx.stroke();
        ctx.setLineDash([]);
        if (kind & SF.lost) { ctx.strokeStyle = '#6b7280'; ctx.lineWidth = 1.5; ctx.beginPath(); ctx.moveTo(xx - 3, yb - 8); ctx.lineTo(xx + 3, yb - 2); ctx.moveTo(xx + 3, yb - 8); ctx.lineTo(xx - 3, yb - 2); ctx.stroke(); }
        // A retransmitted byte or two is invisible at this scale: a marker says where.
        if (kind & SF.retransmission) { ctx.fillStyle = C.retx; ctx.beginPath(); ctx.moveTo(xx, yb - 3); ctx.lineTo(xx - 4, yb - 10); ctx.lineTo(xx + 4, yb - 10); ctx.closePath(); ctx.fill(); }
        if (kind & (SF.syn | SF.fin | SF.rst)) { ctx.fillStyle = C.muted; ctx.textAlign = 'left'; ctx.fillText(kind & SF.syn ? 'SYN' : kind & SF.fin ? 'FIN' : 'RST', xx + 4, ya - 6); }
        drawn++;
        segHits.push({ i: i2, x: xx, y0: Math.min(ya, yb) - 4, y1: Math.max(ya, yb) + 4 });
      }
      if (selected && selected.run === r) {
        var xs2 = X(r.tasks.start[selected.row]);
        ctx.strokeStyle = '#111'; ctx.setLineDash([4, 3]); ctx.lineWidth = 1;
        ctx.beginPath(); ctx.moveTo(xs2, Tp); ctx.lineTo(xs2, Tp + ph); ctx.stroke(); ctx.setLineDash([]);
      }
      ctx.restore();
      if (winClipped) { ctx.fillStyle = C.win; ctx.textAlign = 'right'; ctx.textBaseline = 'top'; ctx.fillText('receive window edge off the top (up to ' + Math.round(wmax) + ')', L + pw - 4, Tp + 2); }
      cv.dataset.points = String(drawn);
      cv.dataset.acks = String(Math.max(0, j1 - j0));
    }

    function buildCharts(d) {
      tv.plots.forEach(function (u) { u.destroy(); });
      tv.plots = [];
      charts.textContent = '';
      var s = d.state;
      if (!s || !s.t.length || typeof uPlot === 'undefined') { charts.appendChild(el('p', { class: 'hint', text: 'No state series for this direction.' })); return; }
      var width = Math.max(300, box.clientWidth || 600);
      var inferred = s.source === 'inferred';
      var srcText = inferred ? 'inferred from the frames (where the capture saw them), not the sender\'s own numbers' : 'read from the sender\'s own TCP (' + s.host + ') after each task';
      var common = function (title, yLabel) {
        return {
          width: width, height: 180, title: title,
          scales: { x: { time: false, min: tv.a, max: tv.b } },
          axes: [{ label: 'ms' }, { label: yLabel, size: 64 }],
          cursor: { drag: { x: true, y: false } },
          legend: { live: true },
          hooks: { setScale: [function (u, key) {
            if (key !== 'x' || syncing) return;
            var mn = u.scales.x.min, mx = u.scales.x.max;
            syncing = true;
            tv.plots.forEach(function (o) { if (o !== u) o.setScale('x', { min: mn, max: mx }); });
            syncing = false;
            setRange(mn, mx, true);
          }] },
        };
      };
      var stepped = uPlot.paths && uPlot.paths.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined;
      var t1 = el('div', { class: 'chart-title' }, [inferred ? 'Bytes in flight ' : 'Congestion window, slow-start threshold, bytes in flight ', el('span', { class: 'src' + (inferred ? ' inferred' : ''), text: '— ' + srcText })]);
      charts.appendChild(t1);
      var o1 = common('', 'bytes');
      var series1 = [{ label: 'time' }];
      var data1 = [s.t];
      if (!inferred) {
        series1.push({ label: 'cwnd', stroke: C.up, width: 1.5, paths: stepped, points: { show: false } });
        series1.push({ label: 'ssthresh', stroke: C.cleanup, width: 1.5, dash: [5, 3], paths: stepped, points: { show: false } });
        data1.push(s.cwnd, s.ssthresh);
      }
      series1.push({ label: inferred ? 'bytes in flight (inferred)' : 'bytes in flight (snd.max − snd.una)', stroke: C.down, width: 1.5, paths: stepped, fill: 'rgba(234,88,12,0.08)', points: { show: false } });
      data1.push(s.flight);
      o1.series = series1;
      var div1 = el('div', { class: 'chart', 'data-chart': 'window' });
      charts.appendChild(div1);
      tv.plots.push(new uPlot(o1, data1, div1));
      var t2 = el('div', { class: 'chart-title' }, [inferred ? 'Round-trip time ' : 'Smoothed RTT and RTO ', el('span', { class: 'src' + (inferred ? ' inferred' : ''), text: '— ' + srcText })]);
      charts.appendChild(t2);
      var o2 = common('', 'ms');
      var data2;
      if (inferred) {
        var joined = uPlot.join([[s.t, s.srtt], [s.rttT || [], s.rtt || []]]);
        data2 = joined;
        o2.series = [{ label: 'time' }, { label: 'SRTT (inferred)', stroke: C.up, width: 1.5, spanGaps: true, points: { show: false } }, { label: 'RTT sample (inferred)', stroke: C.down, width: 0, paths: function () { return null; }, points: { show: true, size: 5, fill: C.down } }];
      } else {
        data2 = [s.t, s.srtt, s.rto];
        o2.series = [{ label: 'time' }, { label: 'SRTT', stroke: C.up, width: 1.5, paths: stepped, spanGaps: true, points: { show: false } }, { label: 'RTO', stroke: C.drop, width: 1.5, paths: stepped, points: { show: false } }];
      }
      var div2 = el('div', { class: 'chart', 'data-chart': 'rtt' });
      charts.appendChild(div2);
      tv.plots.push(new uPlot(o2, data2, div2));
    }

    sel.onchange = select;
    cv.addEventListener('wheel', function (ev) {
      ev.preventDefault();
      var rect = cv.getBoundingClientRect(), pw = rect.width - 72, t = tv.a + ((ev.clientX - rect.left - 62) / pw) * (tv.b - tv.a);
      var k = Math.pow(1.0015, ev.deltaY);
      setRange(t - (t - tv.a) * k, t + (tv.b - t) * k);
    }, { passive: false });
    function segAt(ev) {
      var rect = cv.getBoundingClientRect(), x = ev.clientX - rect.left, y = ev.clientY - rect.top, best = null, bd = 7;
      segHits.forEach(function (h) {
        var dx = Math.abs(h.x - x);
        if (dx < bd && y >= h.y0 - 3 && y <= h.y1 + 3) { bd = dx; best = h; }
      });
      return best;
    }
    var drag = null;
    cv.addEventListener('mousedown', function (ev) { drag = { x: ev.clientX, a: tv.a, b: tv.b, moved: false }; });
    cv.addEventListener('mousemove', function (ev) {
      if (drag) return;
      var h = segAt(ev), d = tv.dir;
      if (!h) { cv.title = ''; return; }
      var i = h.i, k = d.seg.kind[i];
      cv.title = 'seq ' + d.seg.seq[i] + '…' + (d.seg.seq[i] + d.seg.len[i]) + ' (' + d.seg.len[i] + ' bytes) at ' + fmtMs(d.seg.t[i]) +
        (k & SF.retransmission ? ', retransmission' : '') + (k & SF.lost ? ', lost on the link' : '') + (k & SF.piggyback ? ', carried a piggybacked ACK' : '') +
        (d.seg.task[i] >= 0 ? ' — click: the task that sent it' : '');
    });
    window.addEventListener('mousemove', function (ev) {
      if (!drag) return;
      if (Math.abs(ev.clientX - drag.x) > 3) drag.moved = true;
      if (!drag.moved) return;
      var rect = cv.getBoundingClientRect(), dt = ((ev.clientX - drag.x) / (rect.width - 72)) * (drag.b - drag.a);
      setRange(drag.a - dt, drag.b - dt);
    });
    window.addEventListener('mouseup', function (ev) {
      if (!drag) return;
      var d = drag; drag = null;
      if (d.moved) return;
      var h = segAt(ev);
      if (!h || tv.dir.seg.task[h.i] < 0) return;
      var row = tv.dir.seg.task[h.i], t = r.tasks.start[row], half = Math.min(250, (view.b - view.a) / 2);
      selected = { run: r, row: row };
      setView(t - half, t + half);
      showTask(r, ri, row);
      tcpViews.forEach(function (v) { v.draw(); });
      detail.scrollIntoView({ block: 'nearest' });
    });
    select();
    return tv;
  }

  // ---- counters section
  var secC = el('section', { class: 'panel', id: 'counters-section' });
  app.appendChild(secC);
  secC.appendChild(el('h2', { text: 'Summary and per-module counters' }));
  var cCols = el('div', { class: 'cols' });
  secC.appendChild(cCols);
  function table(head, rows, cls) {
    var t = el('table', { class: 'counters' + (cls ? ' ' + cls : '') });
    t.appendChild(el('tr', null, head.map(function (x) { return el('th', { text: x }); })));
    rows.forEach(function (rw) { t.appendChild(el('tr', null, rw.map(function (x, i) { return el('td', { text: String(x), class: i > 0 && typeof x === 'string' && isNaN(+x) ? 'l' : '' }); }))); });
    return t;
  }
  if (compare) {
    // One table, the two runs' summaries row by row: the differences are what a comparison is for.
    var keys = [], seen = {};
    runs.forEach(function (r) { r.summary.forEach(function (x) { if (!seen[x[0]]) { seen[x[0]] = 1; keys.push(x[0]); } }); });
    var val = function (r, k) { var f = r.summary.filter(function (x) { return x[0] === k; })[0]; return f ? f[1] : '—'; };
    var both = table(['', 'A', 'B'], keys.map(function (k) { return [k, val(runs[0], k) + '\u200b', val(runs[1], k) + '\u200b']; }), 'summary');
    both.id = 'summary-ab';
    [].forEach.call(both.querySelectorAll('tr'), function (tr) {
      var td = tr.querySelectorAll('td');
      if (td.length === 3 && td[1].textContent !== td[2].textContent) tr.style.background = '#fff7e6';
    });
    secC.insertBefore(el('h3', { text: 'Summary, A against B (rows that differ are shaded)' }), cCols);
    secC.insertBefore(both, cCols);
  }
  runs.forEach(function (r, ri) {
    var box = el('div', { class: 'counters-run' });
    cCols.appendChild(box);
    if (compare) box.appendChild(el('div', { class: 'caption', text: (ri === 0 ? 'A · ' : 'B · ') + r.title }));
    if (r.summary.length && !compare) { box.appendChild(el('h3', { text: 'Summary' })); box.appendChild(table(['', 'value'], r.summary.map(function (x) { return [x[0], x[1] + '\u200b']; }), 'summary')); }
    r.counters.forEach(function (hc) {
      box.appendChild(el('h3', { text: 'Host ' + hc.host + ': modules' }));
      box.appendChild(table(['module', 'entries', 'upcalls', 'failed', 'deferrals', 'cleanups', 'drops', 'drop reasons'], hc.modules.map(function (m) {
        var reasons = Object.keys(m.dropReasons).map(function (k) { return k + ' ' + m.dropReasons[k]; }).join(', ');
        return [m.module, m.entries, m.upcalls, m.upcallsFailed, m.deferrals, m.cleanups, m.drops, reasons || '—'];
      }), 'modules'));
      var rt = Object.keys(hc.runtime).map(function (k) { return [k, hc.runtime[k]]; });
      var tcp = hc.tcp ? Object.keys(hc.tcp).filter(function (k) { return hc.tcp[k] !== 0; }).map(function (k) { return ['tcp.' + k, hc.tcp[k]]; }) : [];
      box.appendChild(table(['runtime and TCP', 'count'], rt.concat(tcp)));
    });
  });

  window.addEventListener('resize', function () {
    timelines.forEach(function (t) { t.draw(); });
    tcpViews.forEach(function (v) { v.draw(); });
  });
  setView(view.a, view.b);
  // The transcript beside the timeline is as tall as the timeline (at least a readable height).
  aside.style.maxHeight = Math.max(260, left.offsetHeight) + 'px';
  window.__report = { runs: runs, view: view, setView: setView, timelines: timelines, tcp: tcpViews };
  document.body.dataset.ready = '1';
})();
