/**
 * Where a capture writer's bytes go: a file it opens (and closes), or a stream
 * the caller gives it (ended at close unless told otherwise). The first stream
 * error is kept and reported by the writer's next call.
 */
import { createWriteStream } from 'node:fs';

export class CaptureSink {
  readonly stream: NodeJS.WritableStream;
  private readonly owns: boolean;
  /** The stream's first error, if any. */
  error: Error | undefined;

  constructor(target: string | NodeJS.WritableStream, endStream = true) {
    if (typeof target === 'string') {
      this.stream = createWriteStream(target);
      this.owns = true;
    } else {
      this.stream = target;
      this.owns = endStream;
    }
    this.stream.on('error', (err: Error) => {
      this.error ??= err;
    });
  }

  /** Throws the stream's error, if one happened. */
  check(): void {
    if (this.error !== undefined) throw this.error;
  }

  write(data: Uint8Array): void {
    this.stream.write(data);
  }

  /**
   * The last write: hand over the final bytes, then end the stream if it is
   * ours to end (a file: wait for its descriptor to close) or let them drain.
   * Rejects with the stream's error, including one that happened before.
   */
  async finish(data: Uint8Array): Promise<void> {
    const stream = this.stream;
    const failed = new Promise<never>((_, reject) => {
      if (this.error !== undefined) reject(this.error);
      stream.once('error', reject);
    });
    failed.catch(() => undefined);
    const done = new Promise<void>((resolve) => {
      if (!this.owns) {
        stream.write(data, () => resolve());
        return;
      }
      // 'close' on a file stream comes after its descriptor is closed; other streams may only 'finish'.
      let settled = false;
      const settle = (): void => {
        if (!settled) {
          settled = true;
          resolve();
        }
      };
      stream.once('close', settle);
      stream.end(data, () => {
        if (!('fd' in stream)) settle();
      });
    });
    await Promise.race([done, failed]);
    this.check();
  }
}
