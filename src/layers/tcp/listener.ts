/**
 * A listening port: the handlers that accept its connections and the two
 * queues RFC 9293 and every real stack bound: half-open connections
 * (SYN-RECEIVED, the SYN queue) and established connections the application
 * has not bound yet (the accept queue, "backlog").
 */
import type { Binding } from '../../core/index.js';
import { formatEndpoint, type IpAddress } from '../net.js';
import type { Tcp } from './tcp.js';
import type { TcpListenSlots } from './types.js';

export class TcpListener {
  binding: Binding<TcpListenSlots> | null = null;
  /** Half-open connections now. */
  synCount = 0;
  /** Established connections waiting for the application to bind them. */
  acceptCount = 0;
  /** Connections accepted over the listener's life. */
  accepted = 0;
  /** SYNs refused because a queue was full. */
  overflows = 0;
  open = true;

  constructor(
    readonly tcp: Tcp,
    readonly port: number,
    readonly backlog: number,
    readonly synBacklog: number,
    readonly noDelay: boolean,
    /** The one local address it accepts on; null: every address of both families. */
    readonly address: IpAddress | null = null,
  ) {}

  /** Stop listening: half-open and unbound connections are reset; bound ones live on. */
  close(): void {
    this.tcp.unlisten(this);
  }

  describe(): string {
    return this.address === null ? `tcp listen :${this.port}` : `tcp listen ${formatEndpoint(this.address, this.port)}`;
  }
}
