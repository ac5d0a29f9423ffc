/**
 * What every capture reader yields, whatever the file format: one captured
 * frame with where it came from. Readers stream these; nothing holds the file.
 */
export interface CaptureRecord {
  /** 0-based position of the frame in the file. */
  readonly index: number;
  /** Capture time in nanoseconds since the Unix epoch. */
  readonly timestampNs: bigint;
  /**
   * The same as the nearest double, `Number(timestampNs)`, when the reader has
   * it at hand without a BigInt (a replay's clock reads it for every frame).
   */
  readonly timeNs?: number;
  /** Link-layer type (LINKTYPE_ETHERNET = 1, LINKTYPE_RAW = 101, LINKTYPE_IPV4 = 228, LINKTYPE_LINUX_SLL = 113). */
  readonly linkType: number;
  /** The captured bytes (may be shorter than originalLength when the snaplen cut it). */
  readonly data: Uint8Array;
  /** Length of the frame on the wire. */
  readonly originalLength: number;
  /** Interface the frame was captured on (always 0 for classic pcap). */
  readonly interfaceId: number;
  /** Byte offset of this record's header in the file, for error messages. */
  readonly fileOffset: number;
}

export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;

/** A capture file that is truncated, corrupt or not a capture at all. */
export class CaptureFormatError extends Error {
  constructor(
    message: string,
    /** Byte offset in the file where the problem was found. */
    readonly offset: number,
  ) {
    super(`${message} (at byte offset ${offset})`);
    this.name = 'CaptureFormatError';
  }
}

/**
 * Records a reader was told to pass over (`CapturePass`): what a replay still
 * needs of each, its place, time and lengths, as numbers in one array instead
 * of a record object each. Filled while a batch is read, emptied by the
 * consumer once it has taken them with that batch.
 */
export class PassedRecords {
  /** Numbers per record: index, seconds, ns within the second, link type, captured length, original length. */
  static readonly FIELDS = 6;
  count = 0;
  at = new Float64Array(PassedRecords.FIELDS * 1024);

  push(index: number, sec: number, fracNs: number, linkType: number, capturedLength: number, originalLength: number): void {
    let at = this.at;
    const i = this.count * PassedRecords.FIELDS;
    if (i + PassedRecords.FIELDS > at.length) {
      const grown = new Float64Array(at.length * 2);
      grown.set(at);
      this.at = at = grown;
    }
    at[i] = index;
    at[i + 1] = sec;
    at[i + 2] = fracNs;
    at[i + 3] = linkType;
    at[i + 4] = capturedLength;
    at[i + 5] = originalLength;
    this.count++;
  }
}

/**
 * Tells a reader which records to make into CaptureRecords: a record `keep`
 * turns down (its bytes at `bytes[start, end)`) is only noted in `passed`, in
 * the batch it belongs to. A reader may ignore this and make every record.
 */
export interface CapturePass {
  keep(linkType: number, bytes: Uint8Array, start: number, end: number): boolean;
  readonly passed: PassedRecords;
}
