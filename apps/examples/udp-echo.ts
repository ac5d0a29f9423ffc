/**
 * A UDP echo service written as a handler bound directly to IP's slot for
 * protocol 17, with no UDP module on that host: the handler parses the UDP
 * header itself, checks the checksum, and sends the data back by writing a UDP
 * header into a fresh buffer's headroom and calling `ip.send`.
 *
 *     npx tsx apps/examples/udp-echo.ts
 *
 * The client host uses the ordinary Udp module.
 */
import { pathToFileURL } from 'node:url';
import { VirtualClock } from '../../src/core/index.js';
import { createHost } from '../../src/host.js';
import type { IpPacket } from '../../src/layers/ip.js';
import { SimLink } from '../../src/layers/nic/sim-link.js';
import { formatIp4 } from '../../src/wire/addr.js';
import { formatIp } from '../../src/layers/net.js';
import { IP_PROTO_UDP } from '../../src/wire/ipv4.js';
import { parseUdp, udpChecksumOk, writeUdpHeader } from '../../src/wire/udp.js';

export interface UdpEchoRun {
  /** Datagrams the echo handler answered. */
  echoed: number;
  /** What the client got back, as text. */
  replies: string[];
  /** Drops the echo host counted, by module and reason. */
  drops: Record<string, Record<string, number>>;
  lines: string[];
}

export async function runUdpEcho(print: (line: string) => void = (l) => console.log(l)): Promise<UdpEchoRun> {
  const lines: string[] = [];
  const say = (l: string): void => {
    lines.push(l);
    print(l);
  };
  const clock = new VirtualClock();
  const link = new SimLink(clock, { seed: 1 });
  const client = createHost({ name: 'client', link, ip: '10.0.0.1/24' });
  const server = createHost({ name: 'server', link, ip: '10.0.0.2/24', udp: false });

  // --- the echo service: one handler on IP's protocol-17 slot ---------------
  const owner = server.rt.app('udp-echo');
  let echoed = 0;
  server.ip.bindProtocol(IP_PROTO_UDP, owner, {
    onPacket(pkt: IpPacket) {
      const { buf } = pkt;
      const r = parseUdp(buf.bytes, buf.start, buf.length);
      if (!r.ok) return owner.drop(r.reason);
      const h = r.header;
      if (!udpChecksumOk(buf.bytes, buf.start, h.length, pkt.src, pkt.dst)) return owner.drop('bad-checksum');
      if (h.dstPort !== 7) {
        owner.drop('not-echo-port');
        return server.ip.unreachable(pkt, 3);
      }
      // The request's buffer belongs to the frame; the answer is a new one.
      const dataLength = h.length - 8;
      const out = server.ip.alloc(dataLength, 'udp echo');
      out.bytes.set(buf.bytes.subarray(buf.start + 8, buf.start + h.length), out.start);
      writeUdpHeader(out, { srcPort: h.dstPort, dstPort: h.srcPort, length: 0, checksum: 0 }, pkt.dst, pkt.src);
      echoed++;
      server.ip.send(pkt.src, IP_PROTO_UDP, out, { src: pkt.dst });
    },
  });
  say(`server ${formatIp4(server.address)}: echo handler bound to IP protocol ${IP_PROTO_UDP}`);

  // --- the client: an ordinary Udp socket ------------------------------------
  const replies: string[] = [];
  const app = client.rt.app('client-app');
  const socket = client.udp!.bind(0, app, {
    onDatagram(d) {
      const text = new TextDecoder().decode(d.payload);
      replies.push(text);
      say(`client got ${JSON.stringify(text)} from ${formatIp(d.src)}:${d.srcPort} at ${clock.now().toFixed(3)} ms`);
    },
  });
  for (const [i, word] of ['hello', 'upcalls', 'world'].entries()) {
    clock.schedule(i * 10, () => {
      say(`client sends ${JSON.stringify(word)} from port ${socket.port} to ${formatIp4(server.address)}:7`);
      socket.send(server.address, 7, new TextEncoder().encode(word));
    });
  }
  // A datagram to a port the echo handler refuses: answered with ICMP port unreachable.
  clock.schedule(40, () => socket.send(server.address, 9, new Uint8Array([1, 2, 3])));
  client.icmp.bindErrors(app, {
    onError(e) {
      say(`client got ICMP type ${e.type} code ${e.code} from ${formatIp4(e.from)} (port unreachable)`);
    },
  });
  clock.runAll();

  const drops: Record<string, Record<string, number>> = {};
  for (const row of server.stats()) if (row.drops > 0) drops[row.module] = { ...row.dropReasons };
  say(`echoed ${echoed} datagrams; server drops: ${JSON.stringify(drops)}`);
  return { echoed, replies, drops, lines };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void runUdpEcho();
}
