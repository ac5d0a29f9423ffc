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
 * Records as numbers instead of objects, for a consumer that takes each one
 * synchronously while its chunk is in hand (replay): a reader given one of
 * these (`PcapReadOptions.columns`) makes no CaptureRecord, no BigInt and no
 * view per record; it notes where each record lies and its header fields here,
 * in file order, and yields its batches empty. The consumer takes what a batch
 * brought, then empties the columns (`count = 0`) before reading on. A reader
 * notes every record there or none: it may ignore them and yield records as usual.
 */
export class RecordColumns {
  /** Numbers per record: index, seconds, ns within the second, link type, start in its bytes, captured length, original length. */
  static readonly FIELDS = 7;
  count = 0;
  at = new Float64Array(RecordColumns.FIELDS * 1024);
  /** The memory each record lies in (its chunk, or a copy of a record cut across two). */
  readonly bytes: Uint8Array[] = [];

  push(bytes: Uint8Array, index: number, sec: number, fracNs: number, linkType: number, start: number, capturedLength: number, originalLength: number): void {
    let at = this.at;
    const i = this.count * RecordColumns.FIELDS;
    if (i + RecordColumns.FIELDS > at.length) {
      const grown = new Float64Array(at.length * 2);
      grown.set(at);
      this.at = at = grown;
    }
    at[i] = index;
    at[i + 1] = sec;
    at[i + 2] = fracNs;
    at[i + 3] = linkType;
    at[i + 4] = start;
    at[i + 5] = capturedLength;
    at[i + 6] = originalLength;
    this.bytes[this.count] = bytes;
    this.count++;
  }
}
