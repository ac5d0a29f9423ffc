/**
 * The parsed form of a packetdrill script: options, then events, each with
 * its timing and one action (a packet, a system call, a shell command or an
 * inline code block).
 */

/** When an event happens, in seconds (script time). */
export type EventTime =
  | { readonly kind: 'absolute'; readonly t: number }
  | { readonly kind: 'relative'; readonly t: number }
  | { readonly kind: 'any' }
  | { readonly kind: 'absolute-range'; readonly t: number; readonly end: number }
  | { readonly kind: 'relative-range'; readonly t: number; readonly end: number };

export type TcpOptionSpec =
  | { readonly kind: 'nop' }
  | { readonly kind: 'eol' }
  | { readonly kind: 'mss'; readonly mss: number }
  | { readonly kind: 'wscale'; readonly shift: number }
  | { readonly kind: 'sackOK' }
  | { readonly kind: 'sack'; readonly blocks: readonly (readonly [number, number])[] }
  | { readonly kind: 'TS'; readonly val: number; readonly ecr: number };

export interface PacketAction {
  readonly type: 'packet';
  readonly direction: '<' | '>';
  /** Flag letters as written ('S', 'S.', 'P.', '.', '' for '-'). */
  readonly flags: string;
  readonly seq: number;
  readonly end: number;
  readonly len: number;
  readonly ack: number | undefined;
  readonly win: number | undefined;
  readonly urg: number | undefined;
  /** Options as written; 'any' for `<...>` (not checked). */
  readonly options: readonly TcpOptionSpec[] | 'any';
}

/** A packet line the runner cannot express (UDP, ICMP, IPv6, GRE, MPLS, IP fields, exotic options). */
export interface UnsupportedPacketAction {
  readonly type: 'unsupported-packet';
  readonly direction: '<' | '>';
  readonly why: string;
}

export type Expr =
  | { readonly kind: 'ellipsis' }
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'word'; readonly name: string }
  | { readonly kind: 'string'; readonly value: string; readonly ellipsis: boolean }
  | { readonly kind: 'or'; readonly left: Expr; readonly right: Expr }
  | { readonly kind: 'assign'; readonly name: string; readonly value: Expr }
  | { readonly kind: 'array'; readonly items: readonly Expr[] }
  | { readonly kind: 'struct'; readonly items: readonly Expr[] }
  | { readonly kind: 'call'; readonly name: string; readonly args: readonly Expr[] };

export interface SyscallAction {
  readonly type: 'syscall';
  readonly name: string;
  readonly args: readonly Expr[];
  readonly result: Expr;
  /** errno name after the result, e.g. 'ECONNREFUSED'. */
  readonly errno: string | undefined;
  /** The parenthesised note after the errno (free text). */
  readonly note: string | undefined;
  /** `start...end`: the script time a blocking call returns (seconds, same base as the start). */
  readonly endTime: number | undefined;
}

export interface CommandAction {
  readonly type: 'command';
  readonly command: string;
}

export interface CodeAction {
  readonly type: 'code';
  readonly code: string;
}

export type Action = PacketAction | UnsupportedPacketAction | SyscallAction | CommandAction | CodeAction;

export interface ScriptEvent {
  /** 1-based source line of the event's first token. */
  readonly line: number;
  readonly time: EventTime;
  readonly action: Action;
}

export interface ScriptOption {
  readonly name: string;
  /** Value as written (undefined for a bare flag). */
  readonly value: string | undefined;
  readonly line: number;
}

export interface Script {
  readonly options: readonly ScriptOption[];
  /** Shell command before the first event (packetdrill's init command), if any. */
  readonly init: { readonly command: string; readonly line: number } | undefined;
  readonly events: readonly ScriptEvent[];
  /** Shell command after the last event (packetdrill's cleanup command), if any. */
  readonly cleanup: { readonly command: string; readonly line: number } | undefined;
  /** Source lines, for messages. */
  readonly lines: readonly string[];
  /** `// expected-failure: reason` annotations (a known stack bug the script documents). */
  readonly expectedFailure: string | undefined;
}
