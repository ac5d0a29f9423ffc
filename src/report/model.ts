/**
 * The data a report page carries: columnar arrays of plain numbers (one array per
 * field rather than one object per row) so a 100,000-frame run stays a few MB of
 * JSON and the page can walk it without allocating.
 *
 * Times are ms on the run's clock. Strings repeated many times (slots, entries,
 * reasons) are indexes into `strings`.
 */

export const REPORT_FORMAT = 'upcall-stack-report/1';

/** Step kinds of a task's path (`steps.kind`). */
export const STEP = {
  start: 0,
  up: 1,
  down: 2,
  deferral: 3,
  deferredRun: 4,
  cleanup: 5,
  drop: 6,
  note: 7,
  /** A read-only entry point was called (no activation: the path does not move). */
  query: 8,
} as const;

/** Bits of `tasks.flags`. */
export const TASK_FLAG = {
  deferral: 1,
  cleanup: 2,
  drop: 4,
  expended: 8,
  /** A segment this task sent carried a piggybacked ACK. */
  piggyback: 16,
  queued: 32,
} as const;

/** Bits of `frames.flags` and `DirData.seg.kind`. */
export const SEG_FLAG = {
  retransmission: 1,
  piggyback: 2,
  syn: 4,
  fin: 8,
  rst: 16,
  /** Sent by a tapped host and never received by the tapped host at the other end: lost on the link. */
  lost: 32,
} as const;

export interface Lane {
  readonly host: number;
  readonly module: string;
}

export interface TaskColumns {
  /** Tasks the run started (all of them, detailed or not). */
  total: number;
  id: number[];
  host: number[];
  start: number[];
  end: number[];
  /** Index into `strings`: 'frame', 'timer', 'replay'... */
  source: number[];
  flags: number[];
  /** Index into `strings` of the reason a task was expended, -1 otherwise. */
  reason: number[];
  /** Offset of the task's first step in `steps`; one more entry than tasks. */
  stepStart: number[];
}

export interface StepColumns {
  lane: number[];
  kind: number[];
  /** Index into `strings`: the slot, entry, drop reason or note; -1 none. */
  text: number[];
  /** The lane the step came from (upcalls, calls down, deferrals); -1 none. */
  from: number[];
  at: number[];
}

export interface FrameColumns {
  total: number;
  t: number[];
  host: number[];
  /** 0 received, 1 sent. */
  dir: number[];
  /** Row in `tasks` of the task that received or sent it, -1 none (or not detailed). */
  task: number[];
  size: number[];
  flags: number[];
  /** Index into `conns`, -1 when not TCP or the connection is not kept. */
  conn: number[];
  /** Decoded layers, one per line; '' beyond the detail cap. */
  text: string[];
}

/** Counts over fixed time bins for the whole run: what the timeline draws when zoomed out. */
export interface Aggregates {
  bins: number;
  t0: number;
  t1: number;
  /** Visits per lane per bin, `lane * bins + bin`. */
  lane: number[];
  tasks: number[];
  deferral: number[];
  cleanup: number[];
  drop: number[];
  expended: number[];
  piggyback: number[];
}

/** TCP state over time for one direction of a connection. */
export interface StateSeries {
  /** 'stack': read from the sender's own TCP; 'inferred': reconstructed from the frames. */
  source: 'stack' | 'inferred';
  host: string | null;
  t: number[];
  cwnd: Array<number | null>;
  ssthresh: Array<number | null>;
  flight: number[];
  srtt: Array<number | null>;
  rto: Array<number | null>;
  /** Inferred only: RTT samples (data segment to the ACK that covered it, at the capture point). */
  rttT?: number[];
  rtt?: number[];
}

export interface DirData {
  from: string;
  to: string;
  /** Sequence numbers below are relative to this one (the SYN's, else the first seen). */
  base: number;
  bytes: number;
  segments: number;
  /** Segments sent; `task` is the row in `tasks` of the task that sent it (-1: not kept, or seen only in a capture). */
  seg: { t: number[]; seq: number[]; len: number[]; kind: number[]; task: number[] };
  /** The ACKs coming back: cumulative ACK and right edge of the offered window. */
  ack: { t: number[]; ack: number[]; win: number[] };
  /** SACK blocks coming back, [t, left, right] triples. */
  sack: number[];
  state: StateSeries | null;
  /** Points were dropped to keep the file bounded. */
  truncated: boolean;
}

export interface ConnData {
  name: string;
  dirs: [DirData, DirData];
}

export interface ModuleCounters {
  module: string;
  entries: number;
  upcalls: number;
  upcallsFailed: number;
  deferrals: number;
  cleanups: number;
  drops: number;
  dropReasons: Record<string, number>;
}

export interface HostCounters {
  host: string;
  /** Tasks the host started before the report observed it (assembling its modules): not in the timeline. */
  tasksBeforeReport: number;
  runtime: Record<string, number>;
  modules: ModuleCounters[];
  tcp: Record<string, number> | null;
}

export interface ReportData {
  format: typeof REPORT_FORMAT;
  title: string;
  kind: string;
  command: string;
  t0: number;
  t1: number;
  hosts: string[];
  /** One lane per module per host, top to bottom (application first, NIC last within a host). */
  lanes: Lane[];
  strings: string[];
  tasks: TaskColumns;
  steps: StepColumns;
  frames: FrameColumns;
  agg: Aggregates;
  conns: ConnData[];
  counters: HostCounters[];
  summary: Array<[string, string]>;
  transcript: string;
  /** What was capped to bound the file, in words (empty: nothing). */
  limits: string[];
  /** The caps themselves, in words: what the file can never exceed whatever the run. */
  caps: string;
}
