/**
 * The challenge-ACK side channel (CVE-2016-5696). An off-path attacker that
 * has a connection of its own to the server sends a spoofed RST for a victim's
 * connection with a guessed sequence number, then drains the module-wide
 * challenge-ACK budget on its own connection and counts the challenge ACKs it
 * gets: with one fixed counter, one fewer means the guess fell in the victim's
 * window. The count must not depend on the victim's window.
 */
import { describe, expect, it } from 'vitest';
import { parseIp4 } from '../../src/wire/addr.js';
import { TCP_ACK, TCP_RST } from '../../src/wire/tcp.js';
import { Bench } from './support/segments.js';

const VICTIM = parseIp4('10.0.0.2');
const ATTACKER = parseIp4('10.0.0.3');
const V_ISN = 1_000_000;
const A_ISN = 5_000_000;

/** Challenge ACKs the attacker counts on its own connection after one spoofed RST at `guessOffset` in the victim's sequence space. */
function attackerCount(seed: number, guessOffset: number, probes = 1100): number {
  const b = new Bench(seed);
  b.listen(80);
  b.handshake(VICTIM, 40_000, 80, V_ISN);
  const aIss = b.handshake(ATTACKER, 50_000, 80, A_ISN);
  b.clock.advance(2_000);
  // The spoofed RST "from the victim": in its window it earns the victim a challenge ACK.
  b.send(VICTIM, 40_000, 80, TCP_RST, V_ISN + 1 + guessOffset, 0);
  // Then, within the same second, RSTs in the attacker's own window (not at rcv.nxt: each asks for a challenge ACK).
  const from = b.seen.length;
  for (let i = 0; i < probes; i++) b.send(ATTACKER, 50_000, 80, TCP_RST, A_ISN + 1 + 10, aIss + 1);
  b.clock.advance(10);
  return b.to(ATTACKER, from).filter((s) => s.h.flags === TCP_ACK).length;
}

describe('hostile: challenge-ACK side channel', () => {
  it("the attacker's count of challenge ACKs does not depend on whether its guess hit the victim's window", () => {
    const inWindow: number[] = [];
    const outOfWindow: number[] = [];
    for (let seed = 1; seed <= 6; seed++) {
      inWindow.push(attackerCount(seed, 100)); // inside the victim's receive window
      outOfWindow.push(attackerCount(seed, 0x4000_0000)); // far outside it
    }
    if (process.env['HOSTILE_FIGURES']) console.log(`challenge ACKs counted by the attacker: guess in window ${inWindow.join(',')}; out of window ${outOfWindow.join(',')}`);
    expect(inWindow).toEqual(outOfWindow);
    // Its own connection yields at most one challenge ACK per 500 ms, however hard it asks.
    for (const n of inWindow) expect(n).toBeLessThanOrEqual(1);
  });

  it('the module-wide budget per second is drawn afresh (between half and one and a half times the limit)', () => {
    const totals = new Set<number>();
    for (let seed = 1; seed <= 5; seed++) {
      const b = new Bench(seed, { challengeAckLimit: 40 });
      b.listen(80);
      const peers: Array<[number, number]> = [];
      for (let i = 0; i < 100; i++) peers.push([40_000 + i, b.handshake(ATTACKER, 40_000 + i, 80, A_ISN)]);
      b.clock.advance(2_000);
      const from = b.seen.length;
      for (const [port, iss] of peers) b.send(ATTACKER, port, 80, TCP_RST, A_ISN + 11, iss + 1);
      b.clock.advance(1);
      const n = b.to(ATTACKER, from).filter((s) => s.h.flags === TCP_ACK).length;
      expect(n).toBeGreaterThanOrEqual(20);
      expect(n).toBeLessThanOrEqual(60);
      totals.add(n);
    }
    expect(totals.size).toBeGreaterThan(1);
  });
});
