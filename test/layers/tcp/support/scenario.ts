/**
 * One randomized transfer: two peers exchange random byte streams through the
 * fake network with the given faults and settings, each half-closing when done.
 * Used by the property tests and by the soak script.
 */
import { Rng } from '../../../../src/core/index.js';
import { makePair, type Faults } from './fake-ip.js';
import { acceptStreamer, streamer } from './apps.js';

export interface Scenario {
  seed: number;
  sizeAB: number;
  sizeBA: number;
  faults: Partial<Faults>;
  useWriter: boolean;
  timestamps: boolean;
  sack: boolean;
  windowScaling: boolean;
  delayedAckMs: number;
  receiveBufferSize: number;
  sendBufferSize: number;
  mtu: number;
  chunkA: number[];
  chunkB: number[];
  pauseEvery: number | undefined;
  queued: boolean;
}

export interface Outcome {
  ok: boolean;
  problems: string[];
  virtualMs: number;
  segments: number;
}

/** Runs a scenario; `problems` lists everything that went wrong (empty = success). */
export function runScenario(s: Scenario, limitMs = 36_000_000): Outcome {
  const { clock, a, b, net } = makePair({
    seed: s.seed,
    faults: s.faults,
    mtu: s.mtu,
    config: {
      timestamps: s.timestamps,
      sack: s.sack,
      windowScaling: s.windowScaling,
      delayedAckMs: s.delayedAckMs,
      receiveBufferSize: s.receiveBufferSize,
      sendBufferSize: s.sendBufferSize,
    },
  });
  if (process.env['SCENARIO_TRACE']) {
    const from = Number(process.env['SCENARIO_TRACE']);
    net.taps.push((d) => {
      if (d.at < from) return;
      const v = new DataView(d.bytes.buffer, d.bytes.byteOffset);
      console.log(`${d.at.toFixed(1)} ${d.src === a.addr ? 'A>B' : 'B>A'} flags=${d.bytes[13]!.toString(16)} seq=${v.getUint32(4)} ack=${v.getUint32(8)} win=${v.getUint16(14)} len=${d.bytes.length - (d.bytes[12]! >> 4) * 4}`);
    });
    for (const h of [a, b]) {
      h.rt.events.subscribe((e) => {
        if (e.at >= from && (e.kind === 'drop' || e.kind === 'note')) console.log(`${e.at.toFixed(1)} ${h.rt.name} ${e.kind} ${'reason' in e ? e.reason : ''} ${'text' in e ? e.text : ''}`);
      });
    }
  }
  const cliApp = a.rt.app('cli');
  const srvApp = b.rt.app('srv');
  if (s.queued) {
    cliApp.dispatch = 'queued';
    srvApp.dispatch = 'queued';
  }
  const rng = new Rng(s.seed ^ 0x5eed);
  const dataAB = rng.bytes(s.sizeAB);
  const dataBA = rng.bytes(s.sizeBA);
  const sched = (ms: number, fn: () => void): void => void clock.schedule(clock.now() + ms, fn);
  const srv = acceptStreamer((p, o, h) => b.tcp.listen(p, o, h), 80, srvApp, dataBA, { chunkSizes: s.chunkB, pauseEvery: s.pauseEvery, pauseMs: 300 }, sched);
  const cli = streamer(dataAB, { chunkSizes: s.chunkA, useWriter: s.useWriter }, sched);
  a.tcp.connect(b.addr, 80, cliApp, cli.handlers);
  const finished = clock.runUntil(() => cli.log.done() && srv[0] !== undefined && srv[0].done(), limitMs);
  const problems: string[] = [];
  const server = srv[0];
  if (!finished) problems.push(`not finished after ${limitMs} ms (client ${cli.log.events.join(',')}; server ${server?.events.join(',')})`);
  if (server === undefined) {
    problems.push('no connection accepted');
  } else {
    if (Buffer.compare(server.bytes(), dataAB) !== 0) problems.push(`a->b: got ${server.bytes().length} of ${dataAB.length} bytes, or different bytes`);
    if (server.errors.length > 0) problems.push(`server errors ${server.errors.map((e) => e.code).join(',')}`);
    if (!server.events.includes('closed')) problems.push('server not closed');
  }
  if (Buffer.compare(cli.log.bytes(), dataBA) !== 0) problems.push(`b->a: got ${cli.log.bytes().length} of ${dataBA.length} bytes, or different bytes`);
  if (cli.log.errors.length > 0) problems.push(`client errors ${cli.log.errors.map((e) => e.code).join(',')}`);
  if (!cli.log.events.includes('closed')) problems.push('client not closed');
  const virtualMs = clock.now();
  // Closing cleanly: after TIME-WAIT nothing is left, no timer, no buffer.
  clock.runAll(600_000);
  if (a.tcp.connectionCount + b.tcp.connectionCount !== 0) problems.push(`connections left: ${JSON.stringify([...a.tcp.connections(), ...b.tcp.connections()])}`);
  if (a.tcp.liveTimers() + b.tcp.liveTimers() !== 0) problems.push('timers left armed');
  if (a.ip.pool.inUse + b.ip.pool.inUse !== 0) problems.push('packet buffers leaked');
  return { ok: problems.length === 0, problems, virtualMs, segments: net.stats.sent };
}
