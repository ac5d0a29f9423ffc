/**
 * The server side's client state: one offer (a service this host serves) and
 * the requests it admitted. The protocol that drives them is the Services
 * module's; this file holds what one offer is and knows.
 */
import type { Module } from '../../core/index.js';
import type { IpAddress } from '../net.js';
import type { CacheEntry } from './dup-cache.js';
import type { CallContext, Job } from './ext/index.js';
import type { ServiceSpec } from './spec.js';

/** A request admitted for execution: the extensions' Job plus where its answer goes. */
export interface ServerJob extends Job {
  readonly offer: ServiceOffer;
  readonly entry: CacheEntry;
  readonly from: IpAddress;
  readonly fromPort: number;
  readonly clientId: number;
}

/** The slot a server's handlers are bound to (one binding per offer). */
export interface ServerSlots {
  onCall(job: ServerJob, ctx: CallContext): unknown;
}

export interface OfferCounters {
  /** Requests admitted (after duplicate suppression and checks). */
  admitted: number;
  /** Handlers that completed with a result. */
  completed: number;
  /** Calls that failed here (task expended, deadline, rejected args or token). */
  failed: number;
}

/** One service offered by this host. */
export class ServiceOffer {
  /** Admitted and not yet answered (running, queued, held by cooldown): the load reported to clients. */
  outstanding = 0;
  withdrawn = false;
  readonly counters: OfferCounters = { admitted: 0, completed: 0, failed: 0 };

  constructor(
    readonly name: string,
    readonly spec: ServiceSpec,
    readonly serverId: number,
    /** The module whose handlers serve it (its cleanup runs when a handler's task is expended). */
    readonly owner: Module,
    /** Withdraw the offer (the Services module supplies it). */
    private readonly onWithdraw: (o: ServiceOffer) => void,
  ) {}

  describe(): string {
    return `offer:${this.name}#${this.serverId.toString(16)}`;
  }

  /** Stop serving: clients are told (an offer with TTL 0); answers already kept are still sent again on request. */
  withdraw(): void {
    if (!this.withdrawn) this.onWithdraw(this);
  }
}
