import { describe, expect, it } from 'vitest';
import { runTcpServices } from '../../apps/examples/tcp-services.js';

describe('example: TCP echo and discard as bound handlers', () => {
  it('echoes each keystroke on the ACK of that keystroke, and discards 100 KB', () => {
    const r = runTcpServices(() => {});
    expect(r.echoed.join('')).toBe('hello, upcalls');
    expect(r.echo).toEqual({ connections: 1, bytes: 14 });
    expect(r.discard).toEqual({ connections: 1, bytes: 100_000 });
    // Every echo segment acknowledged the keystroke it answers: nothing was
    // acknowledged on its own during the typing.
    expect(r.lines).toContain('echo: server sent 14 data segments, 14 carried the ACK of the keystroke, 0 pure ACKs');
    expect(r.server.piggybackedAcks).toBe(14);
  });
});
