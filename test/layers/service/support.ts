/**
 * A small network of hosts, each with a Services module, on one SimLink.
 */
import { Module, VirtualClock, type Runtime } from '../../../src/core/index.js';
import { createHost, type Host } from '../../../src/host.js';
import { SimLink, type SimLinkOptions } from '../../../src/layers/nic/sim-link.js';
import { Services, type ServicesOptions } from '../../../src/layers/service/service.js';
import { s } from '../../../src/layers/service/shape.js';
import { defineService } from '../../../src/layers/service/spec.js';

export interface Net {
  readonly clock: VirtualClock;
  readonly link: SimLink;
  readonly hosts: Host[];
  readonly svcs: Services[];
}

/**
 * `n` hosts 10.0.0.1.. (or, with `family` 6, IPv6-only hosts fd00::1.., DAD off) on one link; each gets a
 * Services module (and, by default, static ARP entries for the others).
 */
export function net(n: number, link: SimLinkOptions = {}, opts: Partial<Omit<ServicesOptions, 'udp'>> = {}, seed = 1, staticArp = true, family: 4 | 6 = 4): Net {
  const clock = new VirtualClock();
  const l = new SimLink(clock, { seed, ...link });
  const hosts: Host[] = [];
  const svcs: Services[] = [];
  for (let i = 0; i < n; i++) {
    const ip = family === 4 ? `10.0.0.${i + 1}/24` : `fd00::${i + 1}/64`;
    const h = createHost({ name: `h${i + 1}`, link: l, ip, seed: seed * 100 + i + 1, ...(family === 6 ? { ipv6: { dad: false } } : {}) });
    hosts.push(h);
    svcs.push(new Services(h.rt, { udp: h.udp!, ...opts }));
  }
  // ARP has no checksum (NDP's messages have one): a corrupted reply would poison a cache for minutes, a
  // fault below the service layer, so the lossy tests use fixed neighbours.
  if (staticArp && family === 4) for (const a of hosts) for (const b of hosts) if (a !== b) a.arp.addStatic(b.address, b.mac);
  return { clock, link: l, hosts, svcs };
}

export const kv = defineService({
  get: { args: s.object({ key: s.string() }), result: s.union(s.string(), s.null()) },
  put: { args: s.object({ key: s.string(), value: s.string() }), result: s.boolean() },
});

/** A key-value server whose put can be made to fail after its change: cleanup must undo it. */
export class KvServer extends Module<undefined, { key: string; old: string | undefined }> {
  readonly store = new Map<string, string>();
  failing = false;
  cleanups = 0;
  constructor(rt: Runtime, name = 'kv-server') {
    super(rt, name);
  }
  readonly handlers = {
    get: ({ key }: { key: string }) => this.store.get(key) ?? null,
    put: ({ key, value }: { key: string; value: string }) => {
      // The change is made first, then the fault: only the cleanup can put it right.
      this.claim({ key, old: this.store.get(key) });
      this.store.set(key, value);
      if (this.failing) throw new Error('server fault');
      return true;
    },
  };
  protected override cleanup(txn: { key: string; old: string | undefined } | undefined): void {
    this.cleanups++;
    if (txn === undefined) return;
    if (txn.old === undefined) this.store.delete(txn.key);
    else this.store.set(txn.key, txn.old);
  }
}
