/**
 * The last write of a capture writer: hand over the final bytes, then end the
 * stream if the writer opened it (a file: wait for its descriptor to close) or
 * just let them drain if the caller owns it. Rejects with the stream's error,
 * including one that happened before.
 */
export async function finishStream(
  stream: NodeJS.WritableStream,
  data: Uint8Array,
  ownsStream: boolean,
  earlierError: Error | undefined,
): Promise<void> {
  const failed = new Promise<never>((_, reject) => {
    if (earlierError !== undefined) reject(earlierError);
    stream.once('error', reject);
  });
  failed.catch(() => undefined);
  const done = new Promise<void>((resolve) => {
    if (!ownsStream) {
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
}
