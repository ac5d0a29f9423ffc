/**
 * Capture times as text. A capture may carry any 64-bit timestamp (a damaged or
 * hostile file, an if_tsoffset far out), but JavaScript's Date covers only
 * ±8.64e15 ms around 1970: inside that range the time is given in ISO 8601,
 * outside it as it is, in seconds since the epoch with GNU date's `@` prefix,
 * so a reader never fails on the value and nothing is invented.
 */

/** Limit of Date, in ms either side of the epoch (ECMA-262 21.4.1.22). */
const DATE_LIMIT_MS = 8.64e15;

/** A capture time in ns since the Unix epoch, from its seconds and the ns within the second. */
export function captureTimeNs(sec: number, fracNs: number): bigint {
  return BigInt(sec) * 1_000_000_000n + BigInt(fracNs);
}

/** A capture time in ns since the Unix epoch: ISO 8601 when Date can hold it, else "@<seconds>.<ns>". */
export function formatCaptureNs(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  if (Math.abs(ms) <= DATE_LIMIT_MS) return new Date(ms).toISOString();
  const neg = ns < 0n;
  const a = neg ? -ns : ns;
  return `@${neg ? '-' : ''}${a / 1_000_000_000n}.${(a % 1_000_000_000n).toString().padStart(9, '0')}`;
}

/** The same for a time in ms (a double); '' when it is not a number at all. */
export function formatCaptureMs(ms: number): string {
  if (!Number.isFinite(ms)) return '';
  if (Math.abs(ms) <= DATE_LIMIT_MS) return new Date(ms).toISOString();
  return `@${(ms / 1000).toFixed(3)}`;
}
