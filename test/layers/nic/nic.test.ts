import { describe, expect, it } from 'vitest';
import { BindError, Runtime, VirtualClock } from '../../../src/core/index.js';
import { ManualDevice } from '../../../src/layers/nic/device.js';
import { Nic } from '../../../src/layers/nic/nic.js';
import { BROADCAST_MAC } from '../../../src/wire/addr.js';
import { BufferPool, type PacketBuffer } from '../../../src/wire/buffer.js';
import { emitEthernet, type EthernetHeader } from '../../../src/wire/ethernet.js';
import { ethernet, MAC_A, MAC_B, MAC_X } from '../helpers.js';

function setup(opts: { promiscuous?: boolean } = {}) {
  const rt = new Runtime({ name: 'h', clock: new VirtualClock() });
  const pool = new BufferPool();
  const dev = new ManualDevice('eth0', MAC_B);
  const nic = new Nic(rt, dev, pool, opts);
  const app = rt.app('app');
  const got: { type: number; payload: number[]; start: number; eth: EthernetHeader }[] = [];
  const onFrame = (buf: PacketBuffer, eth: EthernetHeader): void => {
    got.push({ type: eth.ethertype, payload: [...buf.payload()], start: buf.start, eth });
  };
  return { rt, pool, dev, nic, app, got, onFrame };
}

describe('Nic', () => {
  it('demultiplexes by ethertype and hands up the payload without copying', () => {
    const { dev, nic, app, got, onFrame } = setup();
    nic.bindEthertype(0x88b5, app, { onFrame });
    let seen: Uint8Array | undefined;
    nic.bindEthertype(0x88b6, app, { onFrame: (buf) => void (seen = buf.bytes) });
    dev.inject(ethernet(MAC_B, MAC_A, 0x88b5, new Uint8Array([1, 2, 3])));
    const f = ethernet(MAC_B, MAC_A, 0x88b6, new Uint8Array([9]));
    dev.inject(f);
    expect(got).toHaveLength(1);
    expect(got[0]!.payload).toEqual([1, 2, 3]);
    expect(got[0]!.start).toBe(14);
    expect(seen).toBe(f); // the very bytes the device handed up
  });

  it('steps over 802.1Q tags', () => {
    const { dev, nic, app, got, onFrame } = setup();
    nic.bindEthertype(0x0800, app, { onFrame });
    dev.inject(emitEthernet({ dst: MAC_B, src: MAC_A, vlans: [{ tpid: 0x8100, tci: 42 }], ethertype: 0x0800 }, new Uint8Array([7, 7])));
    expect(got).toHaveLength(1);
    expect(got[0]!.start).toBe(18);
    expect(got[0]!.eth.vlans[0]!.tci).toBe(42);
  });

  it('counts every refused frame by reason', () => {
    const { dev, nic, app, got, onFrame } = setup();
    nic.bindEthertype(0x0800, app, { onFrame });
    dev.inject(new Uint8Array(5)); // runt
    dev.inject(ethernet(MAC_X, MAC_A, 0x0800, new Uint8Array(46))); // another host's unicast
    dev.inject(ethernet(MAC_B, MAC_A, 0x86dd, new Uint8Array(46))); // IPv6: nobody bound
    dev.inject(ethernet(MAC_B, MAC_A, 0x0100, new Uint8Array(46))); // 802.3 length field
    const tags = [];
    for (let i = 0; i < 9; i++) tags.push({ tpid: 0x8100, tci: i });
    dev.inject(emitEthernet({ dst: MAC_B, src: MAC_A, vlans: tags, ethertype: 0x0800 }, new Uint8Array(4)));
    dev.inject(ethernet(BROADCAST_MAC, MAC_A, 0x0800, new Uint8Array(46))); // accepted
    expect(got).toHaveLength(1);
    expect(Object.fromEntries(nic.stats.dropReasons)).toEqual({
      runt: 1,
      'not-for-us': 1,
      'unknown-ethertype': 1,
      '802.3-frame': 1,
      'too-many-vlan-tags': 1,
    });
    expect(nic.counters.rxFrames).toBe(6);
  });

  it('accepts other hosts’ frames when promiscuous', () => {
    const { dev, nic, app, got, onFrame } = setup({ promiscuous: true });
    nic.bindEthertype(0x0800, app, { onFrame });
    dev.inject(ethernet(MAC_X, MAC_A, 0x0800, new Uint8Array(46)));
    expect(got).toHaveLength(1);
  });

  it('starts one task per received frame', () => {
    const { rt, dev, nic, app, onFrame } = setup();
    nic.bindEthertype(0x0800, app, { onFrame });
    const before = rt.stats.tasksStarted;
    for (let i = 0; i < 3; i++) dev.inject(ethernet(MAC_B, MAC_A, 0x0800, new Uint8Array(46)));
    expect(rt.stats.tasksStarted - before).toBe(3);
  });

  it('survives a handler that throws: the task is expended, the buffer released, the next frame served', () => {
    const { rt, pool, dev, nic, app } = setup();
    let n = 0;
    nic.bindEthertype(0x0800, app, {
      onFrame: () => {
        if (++n === 1) throw new Error('boom');
      },
    });
    dev.inject(ethernet(MAC_B, MAC_A, 0x0800, new Uint8Array(46)));
    dev.inject(ethernet(MAC_B, MAC_A, 0x0800, new Uint8Array(46)));
    expect(n).toBe(2);
    expect(rt.stats.tasksExpended).toBe(1);
    expect(pool.inUse).toBe(0);
  });

  it('refuses a second handler for the same ethertype', () => {
    const { nic, app, onFrame } = setup();
    nic.bindEthertype(0x0800, app, { onFrame });
    // From outside a task the entry point reports the BindError as the task's failure.
    expect(() => nic.bindEthertype(0x0800, app, { onFrame })).toThrow();
    const rt = nic.rt;
    rt.startTask(app, 'call', () => {
      expect(() => nic.bindEthertype(0x0800, app, { onFrame })).toThrow(BindError);
    });
    nic.bindEthertype(0x0806, app, { onFrame });
  });

  it('sends: writes the header in the headroom, pads to 60 bytes with zeros, releases the buffer', () => {
    const { pool, dev, nic } = setup();
    const buf = pool.alloc(3);
    buf.bytes.fill(0xee); // recycled memory may hold anything: padding must not show it
    buf.bytes.set([1, 2, 3], buf.start);
    nic.send(buf, MAC_A, 0x0800);
    const [f] = dev.take();
    expect(f).toHaveLength(60);
    expect([...f!.subarray(0, 17)]).toEqual([0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00, 1, 2, 3]);
    expect(f!.subarray(17).every((b) => b === 0)).toBe(true);
    expect(buf.released).toBe(true);
    expect(pool.inUse).toBe(0);
    expect(nic.counters.txFrames).toBe(1);
  });

  it('lets taps see frames in both directions', () => {
    const { pool, dev, nic, app } = setup();
    const seen: string[] = [];
    nic.tap(app, { onFrame: (f, dir) => void seen.push(`${dir}:${f.length}`) });
    dev.inject(ethernet(MAC_B, MAC_A, 0x88b5, new Uint8Array(50)));
    nic.send(pool.alloc(100), MAC_A, 0x88b5);
    expect(seen).toEqual(['rx:64', 'tx:114']);
  });

  it('gives a mailbox (queued) handler its own copy of the frame', () => {
    const { rt, dev, nic, pool } = setup();
    const clock = rt.clock as VirtualClock;
    const queued = rt.app('queued');
    queued.dispatch = 'queued';
    const got: number[][] = [];
    nic.bindEthertype(0x88b5, queued, { onFrame: (buf) => void got.push([...buf.payload()]) });
    dev.inject(ethernet(MAC_B, MAC_A, 0x88b5, new Uint8Array([5, 6, 7])));
    expect(got).toEqual([]);
    expect(pool.inUse).toBe(0); // the NIC's buffer is already back
    clock.runAll();
    expect(got).toEqual([[5, 6, 7]]);
  });
});
