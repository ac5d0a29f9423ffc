/**
 * What the service extensions share: the per-call declaration, the job a
 * server admits for execution, and how a call ends.
 *
 * Every extension is declared per call in the server's offer, so a client
 * (and the wire) can tell which behaviour it gets; nothing is on by default
 * except arrival order.
 */

/** The rights a call requires of a token, and whether its handler sees the token. */
export interface TokenRequirement {
  readonly rights: readonly string[];
  /** The handler receives the token's claims (ctx.token) to check finer rights (which keys, which paths). */
  readonly asArgument?: boolean;
}

export interface CallExt {
  /** The server's task for the call is expended after this; the caller gets failure 'deadline'. */
  readonly deadlineMs?: number;
  /** Notification calls only (no result): the first runs, one more (latest args) at the end of the window, the rest are dropped. */
  readonly cooldownMs?: number;
  /** 'arrival' (default): one client's calls run in the order they arrived. 'any': queued out of order, visible to the handler. */
  readonly order?: 'arrival' | 'any';
  readonly token?: TokenRequirement;
}

/** Why a call failed, as the caller's failure callback or result shows it. */
export type FailureReason =
  | 'deadline'
  | 'threw'
  | 'aborted'
  | 'cooldown'
  | 'no-result'
  | TokenRejection;

export type TokenRejection = 'token-missing' | 'token-forged' | 'token-expired' | 'token-service' | 'token-revoked' | 'token-rights';

export type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly reason: FailureReason; readonly detail?: string };

/** What a verified token says. */
export interface TokenClaims {
  readonly service: string;
  readonly rights: readonly string[];
  /** The binding the token belongs to: after one verified call the server trusts it until expiry or revocation. */
  readonly binding: string;
  /** Absolute time (the server host's clock, ms) after which it is refused. */
  readonly expiresAt: number;
  /** Finer rights for handlers that take the token as an argument (keys, paths). */
  readonly scope: readonly string[];
}

/** One request admitted for execution (after duplicate suppression and the token check). */
export interface Job {
  /** Per-client key: ordering and cooldown are per client. */
  readonly client: string;
  /** Request id (unique per client). */
  readonly id: number;
  readonly call: string;
  readonly args: unknown;
  readonly ext: CallExt;
  /** Absolute server clock time by which the call must have completed. */
  readonly deadlineAt?: number;
  readonly arrivedAt: number;
  /** The token's claims, when the call takes it as an argument. */
  readonly token?: TokenClaims;
}

/** A call waiting in a server's queue, as its handlers see it (ctx.pending()). */
export interface PendingCall {
  readonly client: string;
  readonly id: number;
  readonly call: string;
  readonly args: unknown;
  readonly arrivedAt: number;
}

/** A job as events and traces show it. */
export function describeJob(j: Pick<Job, 'client' | 'id' | 'call'>): string {
  return `${j.call}#${j.id}@${j.client}`;
}
