/** TCP: the module, its connection and listener objects, and the upcall interface. */
export { Tcp } from './tcp.js';
export { TcpConnection } from './connection.js';
export { TcpListener } from './listener.js';
export { DEFAULT_TCP_CONFIG, type TcpConfig } from './config.js';
export type { TcpCounters } from './counters.js';
export type { TcpLower } from './lower.js';
export { STATE_NAMES, type TcpState } from './states.js';
export {
  TcpSocket,
  TcpServer,
  createServer,
  createConnection,
  connect,
  type TcpSocketOptions,
  type SocketConnectOptions,
} from './stream.js';
export {
  TcpError,
  type ConnectOptions,
  type ListenOptions,
  type SegmentWriter,
  type TcpConnectionRow,
  type TcpErrorCode,
  type TcpListenSlots,
  type TcpSlots,
} from './types.js';
