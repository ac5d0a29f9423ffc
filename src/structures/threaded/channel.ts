/**
 * One side of a boundary between two threads: messages batched per turn.
 *
 * A layer group sends a message for every upcall or downcall that crosses to
 * the other group. Each `postMessage` costs a structured clone and a wake-up
 * of the receiving thread, so the channel gathers what one pass of this
 * thread's event loop produces (every frame the link delivered, every batch
 * that arrived from the other side) and posts it as one batch at the end of
 * that pass (setImmediate): a burst of segments or a segment and its
 * acknowledgement cross together. Buffers whose ownership passes are listed
 * for transfer (moved, not cloned).
 *
 * A message is a small array: `[kind, ...fields]`, kind a number.
 */
import type { MessagePort } from 'node:worker_threads';

export type Message = unknown[];

export interface ChannelStats {
  /** Messages sent. */
  messages: number;
  /** postMessage calls (batches) that carried them. */
  batches: number;
  /** Bytes moved by transfer (no copy). */
  bytesTransferred: number;
  /** Bytes copied for the crossing (by the sender: data it keeps, or data lent to it). */
  bytesCopied: number;
}

/** Over every channel of this thread. */
export const channelTotals: ChannelStats = { messages: 0, batches: 0, bytesTransferred: 0, bytesCopied: 0 };

export class Channel {
  readonly stats: ChannelStats = { messages: 0, batches: 0, bytesTransferred: 0, bytesCopied: 0 };
  private batch: Message[] = [];
  private transfer: ArrayBuffer[] = [];
  private flushQueued = false;
  private closed = false;

  constructor(
    private readonly port: MessagePort,
    onMessage: (m: Message) => void,
  ) {
    port.on('message', (batch: Message[]) => {
      for (let i = 0; i < batch.length; i++) onMessage(batch[i]!);
    });
  }

  /** Queue `m` for this turn's batch; `moved` (if any) is transferred with it. */
  send(m: Message, moved?: ArrayBuffer): void {
    if (this.closed) return;
    this.batch.push(m);
    const s = this.stats;
    s.messages++;
    channelTotals.messages++;
    if (moved !== undefined) {
      this.transfer.push(moved);
      s.bytesTransferred += moved.byteLength;
      channelTotals.bytesTransferred += moved.byteLength;
    }
    if (!this.flushQueued) {
      this.flushQueued = true;
      setImmediate(this.flush);
    }
  }

  /**
   * Queue `m` without asking for a flush: it rides with the next batch that
   * goes anyway (memory handed back, which nobody waits for).
   */
  attach(m: Message, moved: ArrayBuffer): void {
    if (this.closed) return;
    this.batch.push(m);
    this.transfer.push(moved);
    this.stats.messages++;
    channelTotals.messages++;
    this.stats.bytesTransferred += moved.byteLength;
    channelTotals.bytesTransferred += moved.byteLength;
  }

  /** Count bytes the sender copied to make a message. */
  copied(n: number): void {
    this.stats.bytesCopied += n;
    channelTotals.bytesCopied += n;
  }

  readonly flush = (): void => {
    this.flushQueued = false;
    if (this.batch.length === 0 || this.closed) return;
    const batch = this.batch;
    const transfer = this.transfer;
    this.batch = [];
    this.transfer = [];
    this.stats.batches++;
    channelTotals.batches++;
    this.port.postMessage(batch, transfer);
  };

  close(): void {
    this.closed = true;
    this.port.close();
  }
}

/** A copy of `bytes` in memory of its own, ready to be transferred. */
export function ownCopy(bytes: Uint8Array): Uint8Array {
  const u = new Uint8Array(bytes.length);
  u.set(bytes);
  return u;
}
