/**
 * What the collector records of a task that goes wrong: the expended task, the
 * cleanup it caused, a drop; and that nothing is recorded (nor built by the
 * runtime) for a host nobody observes; what a thread of a host recorded
 * joins that host's lanes on the host's clock.
 */
import { describe, expect, it } from 'vitest';
import { Module, Runtime, SlotTable, VirtualClock, type Binding } from '../../src/core/index.js';
import { ReportCollector, STEP, TASK_FLAG, ThreadRecorder } from '../../src/report/index.js';

interface Slots {
  onValue(v: number): void;
}

class Source extends Module<undefined, { name: string }> {
  readonly cleaned: string[] = [];
  binding!: Binding<Slots>;
  constructor(rt: Runtime) {
    super(rt, 'source');
  }
  bindApp(owner: Module, h: Partial<Slots>): void {
    this.binding = new SlotTable<Slots>(this, 'value', { onValue: 'one' }).bind(owner, h, { name: 'client-1' });
  }
  arrive(v: number): void {
    this.startTask('frame', () => {
      if (v < 0) {
        this.drop('negative', `${v}`);
        return;
      }
      this.claim(this.binding.client as { name: string });
      this.upcall(this.binding, 'onValue', v);
    });
  }
  protected override cleanup(c: { name: string } | undefined, reason: string): void {
    this.cleaned.push(`${c?.name}: ${reason}`);
  }
}

function host(): { rt: Runtime; src: Source } {
  const rt = new Runtime({ name: 'h', clock: new VirtualClock() });
  const src = new Source(rt);
  src.bindApp(rt.app('app'), {
    onValue: (v) => {
      if (v === 13) throw new Error('unlucky');
    },
  });
  return { rt, src };
}

describe('ReportCollector', () => {
  it('marks the expended task, its cleanup and a drop, each at its module\'s lane', () => {
    const { rt, src } = host();
    const c = new ReportCollector().observe(rt);
    src.arrive(1);
    src.arrive(13);
    src.arrive(-1);
    const d = c.build({ title: 't' });
    expect(src.cleaned).toHaveLength(1);
    expect(d.lanes.map((l) => l.module)).toEqual(['app', 'source']);
    expect(d.tasks.total).toBe(3);
    const [ok, bad, dropped] = [0, 1, 2];
    expect(d.tasks.flags[ok]).toBe(0);
    expect(d.tasks.flags[bad]! & TASK_FLAG.expended).toBe(TASK_FLAG.expended);
    expect(d.tasks.flags[bad]! & TASK_FLAG.cleanup).toBe(TASK_FLAG.cleanup);
    expect(d.strings[d.tasks.reason[bad]!]).toMatch(/unlucky/);
    expect(d.tasks.flags[dropped]! & TASK_FLAG.drop).toBe(TASK_FLAG.drop);
    const steps = (row: number): Array<[string, number]> => {
      const out: Array<[string, number]> = [];
      for (let s = d.tasks.stepStart[row]!; s < d.tasks.stepStart[row + 1]!; s++) out.push([d.lanes[d.steps.lane[s]!]!.module, d.steps.kind[s]!]);
      return out;
    };
    expect(steps(ok)).toEqual([['source', STEP.start], ['app', STEP.up]]);
    expect(steps(bad)).toContainEqual(['source', STEP.cleanup]);
    expect(steps(dropped)).toEqual([['source', STEP.start], ['source', STEP.drop]]);
    expect(d.agg.expended.reduce((a, b) => a + b, 0)).toBe(1);
    expect(d.agg.drop.reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('leaves an unobserved host unobserved: the runtime builds no events', () => {
    const { rt, src } = host();
    const c = new ReportCollector();
    src.arrive(1);
    expect(rt.observed).toBe(false);
    c.observe(rt);
    expect(rt.observed).toBe(true);
    c.build({ title: 't' });
    expect(rt.observed).toBe(false);
  });

  it('takes in what another thread of a host recorded: its modules get lanes of that host, its times move onto the host\'s clock', () => {
    // The host's own thread, and a "thread" whose clock started 40 ms later.
    const below = host();
    const aboveClock = new VirtualClock();
    const above = new Runtime({ name: 'h/app', clock: aboveClock });
    const rec = new ThreadRecorder(above, 'h', 'app thread');
    const upper = new Source(above);
    upper.bindApp(above.app('shell'), { onValue: () => {} });
    const c = new ReportCollector().observe(below.rt);
    (below.rt.clock as VirtualClock).advance(50);
    below.src.arrive(1);
    aboveClock.advance(10);
    upper.arrive(2);
    const r = rec.take();
    rec.stop();
    // Zeros 40 ms apart: the upper thread's 10 ms is the host's 50 ms.
    c.absorb({ ...r, zero: 1040 }, 1000);
    const d = c.build({ title: 't' });
    expect(d.hosts).toEqual(['h']);
    expect(d.lanes.map((l) => l.module).sort()).toEqual(['app', 'shell', 'source']);
    expect(d.tasks.total).toBe(2);
    const row = d.tasks.source.findIndex((i) => d.strings[i] === 'frame, app thread');
    expect(row).toBeGreaterThanOrEqual(0);
    expect(d.tasks.start[row]).toBe(50);
    expect(d.counters.map((h) => h.host)).toEqual(['h', 'h/app']);
  });
});
