/**
 * The RFC 9293 connection states. Kept as small integers on the control block
 * (compared on every segment) and named only where a person reads them.
 */

export const CLOSED = 0;
export const LISTEN = 1;
export const SYN_SENT = 2;
export const SYN_RECEIVED = 3;
export const ESTABLISHED = 4;
export const FIN_WAIT_1 = 5;
export const FIN_WAIT_2 = 6;
export const CLOSE_WAIT = 7;
export const CLOSING = 8;
export const LAST_ACK = 9;
export const TIME_WAIT = 10;

export type TcpState =
  | 'CLOSED'
  | 'LISTEN'
  | 'SYN-SENT'
  | 'SYN-RECEIVED'
  | 'ESTABLISHED'
  | 'FIN-WAIT-1'
  | 'FIN-WAIT-2'
  | 'CLOSE-WAIT'
  | 'CLOSING'
  | 'LAST-ACK'
  | 'TIME-WAIT';

export const STATE_NAMES: readonly TcpState[] = [
  'CLOSED',
  'LISTEN',
  'SYN-SENT',
  'SYN-RECEIVED',
  'ESTABLISHED',
  'FIN-WAIT-1',
  'FIN-WAIT-2',
  'CLOSE-WAIT',
  'CLOSING',
  'LAST-ACK',
  'TIME-WAIT',
];

/** Both SYNs have been exchanged: sequence numbers are known on both sides. */
export function synchronized(st: number): boolean {
  return st >= ESTABLISHED;
}

/** States in which arriving segment text is delivered (RFC 9293 3.10.7.4, seventh step). */
export function acceptsText(st: number): boolean {
  return st === ESTABLISHED || st === FIN_WAIT_1 || st === FIN_WAIT_2;
}

/** States in which the application may still queue data to send. */
export function canSend(st: number): boolean {
  return st === SYN_SENT || st === SYN_RECEIVED || st === ESTABLISHED || st === CLOSE_WAIT;
}
