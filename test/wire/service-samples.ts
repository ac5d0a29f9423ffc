import { ACK_REPLY, ACK_WORKING, FAILURE_RETRYABLE, REQUEST_NOTIFY, type ServiceMessage } from '../../src/wire/service.js';

const bytes = (...b: number[]) => new Uint8Array(b);
const text = (t: string) => new TextEncoder().encode(t);

/** One message of every kind (and variants), for the wire and fuzz tests. */
export const SAMPLES: ServiceMessage[] = [
  { kind: 'request', clientId: 0xdeadbeef, seq: 1, serverId: 7, ackFloor: 1, deadlineMs: 0, flags: 0, service: 'kv', call: 'get', token: bytes(), body: text('{"key":"a"}') },
  { kind: 'request', clientId: 1, seq: 0xffffffff, serverId: 0, ackFloor: 0xfffffff0, deadlineMs: 250, flags: REQUEST_NOTIFY, service: 'fs', call: 'changed', token: bytes(1, 2, 3), body: bytes() },
  { kind: 'reply', clientId: 2, seq: 3, serverId: 4, load: 5, body: text('"ok"') },
  { kind: 'ack', clientId: 2, seq: 3, serverId: 4, what: ACK_REPLY, load: 0 },
  { kind: 'ack', clientId: 2, seq: 3, serverId: 4, what: ACK_WORKING, load: 65535 },
  { kind: 'lookup', queryId: 99, service: 'kv' },
  { kind: 'offer', service: 'kv', serverId: 12, load: 3, ttlMs: 10_000, address: 0x0a000002, port: 7300 },
  { kind: 'offer', service: 'kv', serverId: 12, load: 0, ttlMs: 0, address: 0, port: 7300 },
  { kind: 'failure', clientId: 2, seq: 3, serverId: 4, load: 1, flags: FAILURE_RETRYABLE, reason: 'threw', detail: 'disk on fire ✗' },
];

