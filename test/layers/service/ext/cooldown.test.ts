import { describe, expect, it } from 'vitest';
import { Cooldown } from '../../../../src/layers/service/ext/cooldown.js';
import { testbed } from './harness.js';

function setup() {
  const { rt, clock } = testbed();
  const ran: Array<[number, string]> = [];
  const dropped: string[] = [];
  const cd = new Cooldown<string>(rt.app('notifier'), { run: (j) => ran.push([clock.now(), j]), drop: (j) => dropped.push(j) });
  /** A notification arriving: run at once, or left to the cooldown. */
  const notify = (j: string, key = 'refresh'): void => {
    if (cd.offer(key, j, 100) === 'run') ran.push([clock.now(), j]);
  };
  return { rt, clock, cd, ran, dropped, notify };
}

describe('cooldown', () => {
  it('a burst runs twice: the first at once, the latest at the end of the window; the rest are dropped and counted', () => {
    const { clock, cd, ran, dropped, notify } = setup();
    for (let i = 1; i <= 10; i++) {
      notify(`n${i}`);
      clock.advance(5);
    }
    clock.advance(200);
    expect(ran).toEqual([[0, 'n1'], [100, 'n10']]);
    expect(dropped).toEqual(['n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'n8', 'n9']);
    expect(cd.stats).toEqual({ ran: 1, ranHeld: 1, dropped: 8 });
  });

  it('the held call opens the next window: a call right after it waits again', () => {
    const { clock, ran, notify } = setup();
    notify('a');
    clock.advance(10);
    notify('b');
    clock.advance(95); // b runs at 100, opening [100, 200)
    notify('c');
    clock.advance(200);
    expect(ran).toEqual([[0, 'a'], [100, 'b'], [200, 'c']]);
  });

  it('calls further apart than the window all run at once, and the windows are forgotten', () => {
    const { clock, cd, ran, notify } = setup();
    for (let i = 0; i < 3; i++) {
      notify(`n${i}`);
      clock.advance(150);
    }
    expect(ran.map((r) => r[1])).toEqual(['n0', 'n1', 'n2']);
    expect(cd.stats.dropped).toBe(0);
    expect(cd.open).toBe(0);
  });

  it('keys are independent (one per call and client)', () => {
    const { clock, ran, notify } = setup();
    notify('a1', 'a');
    notify('b1', 'b');
    notify('a2', 'a');
    clock.advance(100);
    expect(ran).toEqual([[0, 'a1'], [0, 'b1'], [100, 'a2']]);
  });

  it('the held call runs in a timer task of the owning module', () => {
    const { rt, clock, cd } = setup();
    let task: string | undefined;
    const cd2 = new Cooldown<string>(rt.app('other'), { run: () => (task = rt.tasks()[0]?.origin) });
    cd2.offer('k', 'x', 10);
    cd2.offer('k', 'y', 10);
    clock.advance(10);
    expect(task).toBe('other');
    expect(cd.open).toBe(0);
  });
});
