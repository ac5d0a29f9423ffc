/**
 * The report's side in a thread that runs part of a host (a layer group in a
 * worker): its events and TCP state are recorded there, where they happen, and
 * handed over as one ThreadRecord at the end, for the thread that builds the
 * report to `absorb`. Recording at the end keeps the run's own messages
 * between threads what they are without a report (one more message, once).
 */
import type { Subscription } from 'rxjs';
import type { StackEvent } from '../core/events.js';
import type { Runtime } from '../core/runtime.js';
import type { Tcp } from '../layers/tcp/tcp.js';
import { counters } from './build.js';
import { clockZero, sampleConnections, type RawSample, type ThreadRecord } from './collector.js';

export class ThreadRecorder {
  private readonly events: StackEvent[] = [];
  private readonly samples = new Map<string, RawSample[]>();
  private readonly sub: Subscription;
  private readonly before: number;
  /** The thread's TCP, once built (its state is sampled after every task). */
  tcp: Tcp | null = null;

  /** Start recording `rt` (before its modules are built, so their tasks are seen). */
  constructor(
    private readonly rt: Runtime,
    /** The host the thread belongs to, and the thread's name in task sources. */
    private readonly host: string,
    private readonly thread: string,
  ) {
    this.before = rt.stats.tasksStarted;
    this.sub = rt.events.subscribe((e) => {
      this.events.push(e);
      if (e.kind === 'task-end' && this.tcp !== null) sampleConnections(this.tcp, this.samples, e.at);
    });
  }

  /** What was recorded, to send once at the end of the run. */
  take(): ThreadRecord {
    if (this.tcp !== null) sampleConnections(this.tcp, this.samples, this.rt.clock.now());
    return {
      host: this.host,
      thread: this.thread,
      zero: clockZero(this.rt.clock),
      events: this.events,
      samples: [...this.samples],
      counters: counters(this.rt, this.tcp, this.before),
    };
  }

  stop(): void {
    this.sub.unsubscribe();
  }
}
