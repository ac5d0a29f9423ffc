/**
 * The service layer: named services offered by servers anywhere on the link,
 * called by clients that name them (Quicksilver's service queues over UDP).
 *
 *     const svcs = new Services(host.rt, { udp: host.udp! });
 *     svcs.offer('kv', kvSpec, { get: ({ key }) => store.get(key) ?? null, ... });
 *     const kv = otherHostsSvcs.use('kv', kvSpec);
 *     await kv.call('get', { key: 'a' });
 */
export { Services, type DatagramPort, type DatagramSocket, type Handlers, type OfferOptions, type ServicesCounters, type ServicesOptions, type UseOptions } from './service.js';
export { CallHandle, ServiceClient, ServiceError, type CallOptions, type CallOutcome, type CallRecord, type ServerInfo } from './client.js';
export { ServiceOffer, type OfferCounters, type ServerJob } from './server.js';
export { defineService, type ArgsOf, type CallSpec, type ResultOf, type ServiceSpec } from './spec.js';
export { checkShape, describeShape, s, type Infer, type Shape } from './shape.js';
export { Directory, type ServerEntry } from './directory.js';
export { DupCache, type DupCacheStats } from './dup-cache.js';
export { TcpDatagrams } from './ext/tcp-datagrams.js';
export { CallContext, TokenAuthority, type CallExt, type FailureReason, type PendingCall, type ServerStructure, type TokenClaims } from './ext/index.js';
