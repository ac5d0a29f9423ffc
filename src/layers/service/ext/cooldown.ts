/**
 * Cooldown for notification calls (calls whose caller wants no result, such as
 * "something changed, refresh"): running every one is waste, losing the last
 * one is wrong. Per key (a call, or a call and a client):
 *  - a call outside a window runs at once and opens a window of `windowMs`;
 *  - the first call inside the window is held; a later one replaces it (the
 *    latest arguments win) and the replaced one is dropped and counted;
 *  - when the window ends, the held call runs and opens the next window.
 * So a burst of any length costs two runs, the second with the newest state.
 */
import type { Module, ModuleTimer } from '../../../core/index.js';

class Window<J> {
  end = 0;
  held: J | null = null;
  timer: ModuleTimer | null = null;
  constructor(readonly key: string) {}
  describe(): string {
    return `cooldown:${this.key}`;
  }
}

export interface CooldownStats {
  /** Calls run at once (a window was not open). */
  ran: number;
  /** Held calls run at the end of a window. */
  ranHeld: number;
  /** Calls replaced by a later one before they ran. */
  dropped: number;
}

export interface CooldownHandlers<J> {
  /** A held call is due (runs in a timer task of the owning module). */
  run(job: J): void;
  /** A held call was replaced by a later one and will never run. */
  drop?(job: J): void;
}

export class Cooldown<J> {
  private readonly windows = new Map<string, Window<J>>();
  readonly stats: CooldownStats = { ran: 0, ranHeld: 0, dropped: 0 };

  /** `owner`'s timers end the windows (a cleanup of a window cancels its timer). */
  constructor(
    private readonly owner: Module,
    private readonly handlers: CooldownHandlers<J>,
  ) {}

  /** Open windows (a window closes, and is forgotten, when it ends with nothing held). */
  get open(): number {
    return this.windows.size;
  }

  /**
   * A notification call arrives. 'run': run it now (the caller does);
   * 'held': it will be handed to `run` when the window ends, unless a later call replaces it.
   */
  offer(key: string, job: J, windowMs: number): 'run' | 'held' {
    const now = this.owner.rt.clock.now();
    let w = this.windows.get(key);
    if (w === undefined || now >= w.end) {
      if (w === undefined) {
        w = new Window<J>(key);
        this.windows.set(key, w);
      }
      this.open_(w, now, windowMs);
      this.stats.ran++;
      return 'run';
    }
    const replaced = w.held;
    w.held = job;
    if (replaced !== null) {
      this.stats.dropped++;
      this.handlers.drop?.(replaced);
    }
    return 'held';
  }

  private open_(w: Window<J>, now: number, windowMs: number): void {
    w.end = now + windowMs;
    const win = w;
    // The window is the timer's client: forgetting the window releases its timer too.
    w.timer ??= this.owner.timer(win, 'cooldown', () => this.windowEnded(win, windowMs));
    w.timer.armAt(w.end);
  }

  private windowEnded(w: Window<J>, windowMs: number): void {
    const job = w.held;
    if (job === null) {
      // Nothing waited: forget the window so the table stays as small as the traffic.
      this.windows.delete(w.key);
      this.owner.releaseClient(w);
      return;
    }
    w.held = null;
    this.open_(w, this.owner.rt.clock.now(), windowMs);
    this.stats.ranHeld++;
    this.handlers.run(job);
  }
}
