/**
 * Queued dispatch: a module that takes its upcalls as messages (an
 * "asynchronous daemon") owns one mailbox. An upcall into it detaches its
 * arguments (the sender's views are only lent for the call) and appends one
 * message; the first message of a batch schedules one drain on the clock, and
 * the drain runs every message waiting, those posted while it runs included,
 * each in a task of its own (a failed message expends only its own task).
 *
 * This is the cheapest shape that structure allows: one clock entry per batch,
 * not per message, and no object per message beyond the arguments the upcall
 * already gathered (the queue is a flat array reused from batch to batch).
 */
import type { Binding } from './binding.js';
import { detachArg } from './detach.js';
import type { Module } from './module.js';
import type { TaskOptions } from './runtime.js';
import type { Task } from './task.js';

export interface MailboxStats {
  /** Messages posted. */
  messages: number;
  /** Drains (clock turns) that delivered them. */
  batches: number;
  /** Bytes the detaching of arguments copied. */
  bytesCopied: number;
  /** Most messages waiting at once. */
  highWater: number;
}

/** Over every mailbox of the process: what a benchmark reports per operation. */
export const mailboxTotals: MailboxStats = { messages: 0, batches: 0, bytesCopied: 0, highWater: 0 };

/** Fields of one message in the flat queue. */
const STRIDE = 5;
/** A drain gives the clock back after this many messages, so one busy mailbox cannot starve the others. */
const MAX_BATCH = 4096;

type Handler = (...a: unknown[]) => unknown;

export class Mailbox {
  readonly stats: MailboxStats = { messages: 0, batches: 0, bytesCopied: 0, highWater: 0 };
  /** binding, slot, handler, args, sender task; repeated. */
  private readonly q: unknown[] = [];
  private head = 0;
  private scheduled = false;
  /** Reused for every message's task: startTask reads it before returning. */
  private readonly opts: { client: unknown; entry: string; parent: Task | null } = { client: undefined, entry: '', parent: null };
  private curBinding: Binding<object> | null = null;
  private curSlot = '';
  private curHandler: Handler | null = null;
  private curArgs: unknown[] | null = null;

  constructor(private readonly module: Module) {}

  /** Messages waiting. */
  get length(): number {
    return (this.q.length - this.head) / STRIDE;
  }

  post(binding: Binding<object>, slot: string, handler: Handler, args: unknown[], from: Task): void {
    // A message outlives the sender's frame: what it lent is copied (the
    // upcall's rest array is ours, so the copies replace the views in place).
    let copied = 0;
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      const d = detachArg(a);
      if (d !== a) {
        args[i] = d;
        copied += detachedBytes(d);
      }
    }
    const q = this.q;
    q.push(binding, slot, handler, args, from);
    const s = this.stats;
    s.messages++;
    s.bytesCopied += copied;
    mailboxTotals.messages++;
    mailboxTotals.bytesCopied += copied;
    const waiting = (q.length - this.head) / STRIDE;
    if (waiting > s.highWater) s.highWater = waiting;
    if (waiting > mailboxTotals.highWater) mailboxTotals.highWater = waiting;
    if (!this.scheduled) {
      this.scheduled = true;
      const clock = this.module.rt.clock;
      clock.schedule(clock.now(), this.drain);
    }
  }

  private readonly drain = (): void => {
    this.stats.batches++;
    mailboxTotals.batches++;
    const q = this.q;
    const opts = this.opts;
    const mod = this.module;
    let n = 0;
    while (this.head < q.length && n < MAX_BATCH) {
      const i = this.head;
      this.head = i + STRIDE;
      n++;
      const binding = q[i] as Binding<object>;
      this.curBinding = binding;
      this.curSlot = q[i + 1] as string;
      this.curHandler = q[i + 2] as Handler;
      this.curArgs = q[i + 3] as unknown[];
      opts.parent = q[i + 4] as Task;
      q[i] = q[i + 2] = q[i + 3] = q[i + 4] = undefined;
      if (!binding.bound) continue;
      opts.client = binding.client;
      opts.entry = this.curSlot;
      mod.startTask('mailbox', this.run, opts as TaskOptions);
    }
    opts.parent = null;
    opts.client = undefined;
    this.curBinding = this.curHandler = this.curArgs = null;
    if (this.head < q.length) {
      const clock = mod.rt.clock;
      clock.schedule(clock.now(), this.drain);
      return;
    }
    q.length = 0;
    this.head = 0;
    this.scheduled = false;
  };

  private readonly run = (): void => {
    this.module.deliverMessage(this.curBinding!, this.curSlot, this.curHandler!, this.curArgs!);
  };
}

/** Bytes held by a detached argument: a byte array, a buffer, or an object carrying them one level down. */
function detachedBytes(d: unknown): number {
  if (d instanceof Uint8Array) return d.byteLength;
  if (d === null || typeof d !== 'object') return 0;
  const own = bufferLength(d);
  if (own >= 0) return own;
  let n = 0;
  const o = d as Record<string, unknown>;
  for (const k in o) {
    const v = o[k];
    if (v instanceof Uint8Array) n += v.byteLength;
    else if (v !== null && typeof v === 'object') {
      const b = bufferLength(v);
      if (b > 0) n += b;
    }
  }
  return n;
}

/** The data length of something shaped like a PacketBuffer, or -1. */
function bufferLength(x: object): number {
  const b = x as { bytes?: unknown; start?: unknown; end?: unknown };
  if (b.bytes instanceof Uint8Array && typeof b.start === 'number' && typeof b.end === 'number') return b.end - b.start;
  return -1;
}
