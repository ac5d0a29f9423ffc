/**
 * Telnet on the stack: the login server and the client (modules bound to a
 * stream transport's upcall slots, TCP in practice), and the pieces they are
 * made of.
 */
export { TelnetServer, DEFAULT_BANNER, describeBytes, type TelnetServerOptions, type TelnetServerCounters } from './server.js';
export { ServerSession, type SessionStage } from './server-session.js';
export { TelnetClient, type TelnetConnectOptions, type TelnetClientCounters } from './client.js';
export { ClientSession, type ScriptStep, type Keystroke, type ClientState } from './client-session.js';
export { TelnetEndpoint, type EndpointHandlers, type EndpointOptions, type NegotiationRecord } from './endpoint.js';
export { Screen } from './screen.js';
export { AsyncWork, runVirtual, type RunOptions, type WorkKind } from './async-work.js';
export { hostShellEnv, netstatTable, psTable, statsTable, type HostEnvOptions } from './host-env.js';
export type { StreamConnection, StreamSlots, StreamListenSlots, StreamListener, StreamTransport, StreamWriter } from './transport.js';
export { OptionNegotiator, type OptionPolicy, type OptionSide, type OptionState, type RequestOutcome } from './options.js';
export { LineEditor, NvtTextDecoder, encodeNvtText, type EchoMode, type LineEvent } from './nvt-line.js';
export { createShell, type Shell, type ShellEnv, type ShellResult } from './shell.js';
export { formatTable, printable, type Table, type Cell } from './table.js';
export { UserDb, LoginLimiter, loadUsers, parseUsers, hashPassword, hashPasswordSync, verifyPassword, type LoginLimiterOptions } from './users.js';
