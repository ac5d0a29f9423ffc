/**
 * The service layer under queued dispatch: every upcall into a module (UDP into
 * Services, Services into the server's and the client's modules) is a message
 * in a mailbox, delivered on a later clock turn. Calls must work the same.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/core/index.js';
import { createHost } from '../../../src/host.js';
import { SimLink } from '../../../src/layers/nic/sim-link.js';
import type { CallOutcome } from '../../../src/layers/service/client.js';
import { Services } from '../../../src/layers/service/service.js';
import { s } from '../../../src/layers/service/shape.js';
import { defineService } from '../../../src/layers/service/spec.js';

const counter = defineService({ add: { args: s.object({ n: s.integer() }), result: s.integer() } });

describe('services with queued dispatch', () => {
  it('calls complete exactly once over a lossy link', () => {
    const clock = new VirtualClock();
    const link = new SimLink(clock, { seed: 9, loss: 0.15, duplicate: 0.05, reorder: 0.1 });
    const hosts = [1, 2, 3].map((i) => createHost({ name: `q${i}`, link, ip: `10.0.0.${i}/24`, seed: i, dispatch: 'queued' }));
    for (const a of hosts) for (const b of hosts) if (a !== b) a.arp.addStatic(b.address, b.mac);
    const svcs = hosts.map((h) => new Services(h.rt, { udp: h.udp! }));
    let total = 0;
    let runs = 0;
    for (const i of [1, 2]) svcs[i]!.offer('counter', counter, { add: ({ n }) => (runs++, (total += n)) });
    const c = svcs[0]!.use('counter', counter);
    const outcomes: CallOutcome<number>[] = [];
    for (let i = 1; i <= 20; i++) c.send('add', { n: i }).onDone((o) => outcomes.push(o));
    clock.runUntil(() => outcomes.length === 20, 120_000);
    clock.advance(5_000);
    expect(outcomes.filter((o) => o.ok)).toHaveLength(20);
    expect(runs).toBe(20);
    expect(total).toBe(210);
  });
});
