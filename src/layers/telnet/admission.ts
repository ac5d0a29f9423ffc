/**
 * Who gets a session slot. Connections that have not logged in are cheap to
 * open and cost a slot each, so without a policy one address holding idle
 * connections takes the service from everybody. The policy:
 *
 *  - an address may hold at most `maxPreAuthPerSource` sessions that have not
 *    logged in (more are refused at once);
 *  - sessions not logged in may fill at most `maxSessions - reservedSessions`
 *    slots: the reserve stays for sessions that log in;
 *  - when the slots for new sessions are full, the newcomer takes the slot of a
 *    session that has not logged in: one from the address holding the most such
 *    sessions, the one idle longest (an abuser's connections go first). Only
 *    when every session is logged in is a newcomer refused.
 *
 * Pure decision over the session table; the server acts on it.
 */
import type { ServerSession } from './server-session.js';

export interface AdmissionOptions {
  readonly maxSessions: number;
  readonly maxPreAuthPerSource: number;
  readonly reservedSessions: number;
}

export type Admission =
  | { kind: 'accept' }
  | { kind: 'evict'; victim: ServerSession }
  | { kind: 'refuse'; reason: 'too-many-sessions' | 'too-many-from-source'; message: string };

/** Whether a session still counts as "not logged in" for slots. */
export function preAuth(s: ServerSession): boolean {
  return s.open && !s.loggedIn;
}

export function admit(sessions: Iterable<ServerSession>, source: string, o: AdmissionOptions): Admission {
  let total = 0;
  let pre = 0;
  let fromSource = 0;
  const perSource = new Map<string, ServerSession[]>();
  for (const s of sessions) {
    total++;
    if (!preAuth(s)) continue;
    pre++;
    const a = s.conn.remoteAddress;
    if (a === source) fromSource++;
    const list = perSource.get(a);
    if (list === undefined) perSource.set(a, [s]);
    else list.push(s);
  }
  if (fromSource >= o.maxPreAuthPerSource) {
    return { kind: 'refuse', reason: 'too-many-from-source', message: 'Too many connections from your address that have not logged in; try again later.\r\n' };
  }
  const preAuthSlots = Math.max(1, o.maxSessions - o.reservedSessions);
  if (total < o.maxSessions && pre < preAuthSlots) return { kind: 'accept' };
  // Full: the busiest address's longest-idle session not logged in makes room.
  let victims: ServerSession[] | undefined;
  for (const list of perSource.values()) if (victims === undefined || list.length > victims.length) victims = list;
  if (victims === undefined) return { kind: 'refuse', reason: 'too-many-sessions', message: 'Too many sessions; try again later.\r\n' };
  let victim = victims[0]!;
  for (const s of victims) if (s.lastInputAt < victim.lastInputAt) victim = s;
  return { kind: 'evict', victim };
}
