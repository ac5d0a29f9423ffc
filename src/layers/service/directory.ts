/**
 * Where a service's servers are: the offers a host has heard, each cached for
 * the time its server allowed, with the load it last reported. A client picks
 * from here; a host configured as the directory answers lookups from here.
 *
 * The policy for picking, stated once: the least busy server, counting the
 * requests it reported outstanding (in its latest offer, reply or ack) plus the
 * ones this host has sent it and not yet seen answered; among equals the one
 * picked longest ago, so equal servers share the work.
 *
 * A dual-stack server is heard in both families (its announcements go to the
 * IPv4 broadcast and to IPv6's all nodes): it is kept once, at the address it
 * was first heard at, so its load and failures are counted against one entry.
 */
import { familyOf, formatIp, type IpAddress } from '../net.js';

export interface ServerEntry {
  readonly service: string;
  readonly address: IpAddress;
  readonly port: number;
  readonly serverId: number;
  /** Outstanding requests the server reported. */
  load: number;
  /** Our requests to it not yet answered. */
  inFlight: number;
  expiresAt: number;
  /** When it was last picked (ties go to the one picked longest ago). */
  pickedAt: number;
  heardAt: number;
}

/** Addresses are keys by their text: two views of the same IPv6 bytes are one server. */
export function serverKey(address: IpAddress, port: number, serverId: number): string {
  return `${formatIp(address)}|${port}|${serverId}`;
}

export class Directory {
  private readonly services = new Map<string, Map<string, ServerEntry>>();
  private picks = 0;

  /** Record an offer (ttlMs 0 withdraws it). Returns the entry, or undefined if withdrawn. */
  heard(service: string, address: IpAddress, port: number, serverId: number, load: number, ttlMs: number, now: number): ServerEntry | undefined {
    let m = this.services.get(service);
    const key = (m !== undefined ? otherFamilyKey(m, address, port, serverId) : undefined) ?? serverKey(address, port, serverId);
    if (ttlMs === 0) {
      m?.delete(key);
      return undefined;
    }
    if (m === undefined) this.services.set(service, (m = new Map()));
    let e = m.get(key);
    if (e === undefined) {
      e = { service, address, port, serverId, load, inFlight: 0, expiresAt: now + ttlMs, pickedAt: -1, heardAt: now };
      m.set(key, e);
    } else {
      e.load = load;
      e.expiresAt = Math.max(e.expiresAt, now + ttlMs);
      e.heardAt = now;
    }
    return e;
  }

  /** A reply, ack or failure from a server told us its load. */
  loadReport(service: string, address: IpAddress, port: number, serverId: number, load: number, now: number): void {
    const e = this.services.get(service)?.get(serverKey(address, port, serverId));
    if (e !== undefined) {
      e.load = load;
      e.heardAt = now;
    }
  }

  /** Forget a server (it failed a call, or stopped answering). */
  forget(service: string, key: string): void {
    this.services.get(service)?.delete(key);
  }

  /** Live servers of `service`, expired ones dropped. */
  servers(service: string, now: number): ServerEntry[] {
    const m = this.services.get(service);
    if (m === undefined) return [];
    const out: ServerEntry[] = [];
    for (const [k, e] of m) {
      if (e.expiresAt <= now) m.delete(k);
      else out.push(e);
    }
    return out;
  }

  /** The least busy live server of `service` not in `exclude` (keys), or undefined. */
  pick(service: string, now: number, exclude: ReadonlySet<string>): ServerEntry | undefined {
    let best: ServerEntry | undefined;
    for (const e of this.servers(service, now)) {
      if (exclude.has(serverKey(e.address, e.port, e.serverId))) continue;
      if (best === undefined || e.load + e.inFlight < best.load + best.inFlight || (e.load + e.inFlight === best.load + best.inFlight && e.pickedAt < best.pickedAt)) best = e;
    }
    if (best !== undefined) best.pickedAt = ++this.picks;
    return best;
  }

  /** Services with at least one live server. */
  known(now: number): string[] {
    return [...this.services.keys()].filter((s) => this.servers(s, now).length > 0);
  }
}

/** The key of the same server (offer id and port) already kept at an address of the other family, if any. */
function otherFamilyKey(m: Map<string, ServerEntry>, address: IpAddress, port: number, serverId: number): string | undefined {
  const family = familyOf(address);
  for (const [k, e] of m) if (e.serverId === serverId && e.port === port && familyOf(e.address) !== family) return k;
  return undefined;
}
