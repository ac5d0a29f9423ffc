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
  { kind: 'offer', service: 'kv', serverId: 12, load: 0, ttlMs: 0, address: null, port: 7300 },
  { kind: 'offer', service: 'kv', serverId: 13, load: 1, ttlMs: 5000, address: bytes(0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2), port: 7300 },
  { kind: 'failure', clientId: 2, seq: 3, serverId: 4, load: 1, flags: FAILURE_RETRYABLE, reason: 'threw', detail: 'disk on fire ✗' },
];


/**
 * Version 1 bytes, as a host before IPv6 sent them (emitted by the version 1
 * code): an offer relaying 10.0.0.2, a withdrawal (address 0: the sender), a
 * lookup; and what each parses to now.
 */
export const V1_SAMPLES: ReadonlyArray<{ hex: string; message: ServiceMessage }> = [
  { hex: '535601058dce0000001d026b760000000c0003000027100a0000021c84', message: { kind: 'offer', service: 'kv', serverId: 12, load: 3, ttlMs: 10_000, address: 0x0a000002, port: 7300 } },
  { hex: '53560105a2ff0000001d026b760000000c000000000000000000001c84', message: { kind: 'offer', service: 'kv', serverId: 12, load: 0, ttlMs: 0, address: null, port: 7300 } },
  { hex: '5356010432c60000001100000063026b76', message: { kind: 'lookup', queryId: 99, service: 'kv' } },
];
