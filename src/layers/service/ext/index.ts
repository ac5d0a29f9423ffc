/** The service extensions (deadline, cooldown, ordering, security tokens, server structures) and datagrams over TCP. */
export { CallContext, invokeHandler, type ServiceHandler } from './context.js';
export { Cooldown, type CooldownHandlers, type CooldownStats } from './cooldown.js';
export { Executor, type ExecutorOptions, type ExecutorStats, type ServerStructure } from './executor.js';
export { PendingQueue } from './ordering.js';
export { TcpDatagrams, TcpDatagramSocket, type TcpDatagramStats } from './tcp-datagrams.js';
export { WorkerPool, type WorkerSpec } from './threaded.js';
export { BindingGuard, readToken, TokenAuthority, type AuthorityOptions, type Checked, type GrantRequest, type GuardStats, type Verified } from './token.js';
export { describeJob, type CallExt, type FailureReason, type Job, type Outcome, type PendingCall, type TokenClaims, type TokenRejection, type TokenRequirement } from './types.js';
