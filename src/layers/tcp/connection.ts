/**
 * The transmission control block: one connection's client state (Clark's
 * split: the port table, ISN secret and timers live in the module; everything
 * here belongs to this connection alone and is torn down by its cleanup).
 *
 * The public methods are TCP entry points; the fields are the RFC 9293
 * variables, read and written by input.ts, output.ts and timers.ts.
 */
import type { Binding, Module, ModuleTimer } from '../../core/index.js';
import { formatEndpoint, formatIp, type IpAddress } from '../net.js';
import { Congestion } from './congestion.js';
import { newCounters, type TcpCounters } from './counters.js';
import type { TcpListener } from './listener.js';
import type { TcpLower } from './lower.js';
import { ReassemblyQueue } from './reassembly.js';
import { RttEstimator } from './rto.js';
import { Scoreboard } from './scoreboard.js';
import { SendBuffer } from './send-buffer.js';
import { CLOSED, STATE_NAMES, type TcpState } from './states.js';
import type { Tcp } from './tcp.js';
import type { TcpSlots } from './types.js';

export class TcpConnection {
  /** @internal state number (states.ts) */
  st = CLOSED;
  /** @internal removed from the port table; nothing may touch it any more */
  dead = false;
  /** @internal the next connection whose tuple has the same hash in the port table (table.ts) */
  tableNext: TcpConnection | null = null;
  binding: Binding<TcpSlots> | null = null;
  /** @internal the listener of a passive open, until accepted */
  listener: TcpListener | null = null;
  /** @internal accepted but not yet bound: counts against the listener's backlog */
  awaitingBind = false;
  readonly stats: TcpCounters = newCounters();
  /** When the connection was created, on the module's clock. */
  readonly createdAt: number;
  /** @internal the network layer of the connection's family */
  lower!: TcpLower;

  // --- send sequence space (RFC 9293 3.3.1)
  // Sequence numbers (and the peer's TSval) are read and written as uint32,
  // and kept as int32 (v | 0, read back v >>> 0): an int32 is a small integer
  // in its field, where a uint32 above 2^31 made the field a double, and V8
  // boxes every double field of every connection (one heap number each, made
  // with the connection: half of the objects an idle connection kept alive).
  // The accessors are inlined where they are used.
  private i_iss = 0;
  /** @internal */
  get iss(): number {
    return this.i_iss >>> 0;
  }
  set iss(v: number) {
    this.i_iss = v | 0;
  }
  private i_sndUna = 0;
  /** @internal */
  get sndUna(): number {
    return this.i_sndUna >>> 0;
  }
  set sndUna(v: number) {
    this.i_sndUna = v | 0;
  }
  private i_sndNxt = 0;
  /** @internal */
  get sndNxt(): number {
    return this.i_sndNxt >>> 0;
  }
  set sndNxt(v: number) {
    this.i_sndNxt = v | 0;
  }
  private i_sndMax = 0;
  /** @internal highest sequence number sent + 1 (snd.nxt may go back for retransmission) */
  get sndMax(): number {
    return this.i_sndMax >>> 0;
  }
  set sndMax(v: number) {
    this.i_sndMax = v | 0;
  }
  /** @internal peer's window, scaled, bytes */
  sndWnd = 0;
  private i_sndWl1 = 0;
  /** @internal */
  get sndWl1(): number {
    return this.i_sndWl1 >>> 0;
  }
  set sndWl1(v: number) {
    this.i_sndWl1 = v | 0;
  }
  private i_sndWl2 = 0;
  /** @internal */
  get sndWl2(): number {
    return this.i_sndWl2 >>> 0;
  }
  set sndWl2(v: number) {
    this.i_sndWl2 = v | 0;
  }
  /** @internal largest window the peer ever offered (sender SWS avoidance, RFC 5961 ACK check) */
  maxSndWnd = 0;
  /** @internal shift applied to the peer's window field */
  sndWscale = 0;
  /** @internal largest payload per segment we send (peer MSS, path MTU, option space) */
  sndMss = 536;
  private i_bufSeq = 0;
  /** @internal sequence number of sendBuf's first byte */
  get bufSeq(): number {
    return this.i_bufSeq >>> 0;
  }
  set bufSeq(v: number) {
    this.i_bufSeq = v | 0;
  }
  /** @internal */ readonly sendBuf = new SendBuffer();
  /** @internal the application asked for a FIN after the buffered data */
  finQueued = false;
  /** @internal onSendReady wanted */
  armed = false;
  noDelay = false;
  /** @internal send() was refused room: call onDrain when the buffer drains */
  needDrain = false;
  /** @internal data sent since the last onDrain for "everything acknowledged" */
  drainOnEmpty = false;
  /** @internal bytes given to send() during onSendReady: they follow the writer's */
  stash: Uint8Array[] | null = null;
  /** @internal inside onSendReady */
  inSendReady = false;

  // --- receive sequence space
  private i_irs = 0;
  /** @internal */
  get irs(): number {
    return this.i_irs >>> 0;
  }
  set irs(v: number) {
    this.i_irs = v | 0;
  }
  private i_rcvNxt = 0;
  /** @internal */
  get rcvNxt(): number {
    return this.i_rcvNxt >>> 0;
  }
  set rcvNxt(v: number) {
    this.i_rcvNxt = v | 0;
  }
  private i_rcvAdv = 0;
  /** @internal right edge of the window last advertised (never moves left) */
  get rcvAdv(): number {
    return this.i_rcvAdv >>> 0;
  }
  set rcvAdv(v: number) {
    this.i_rcvAdv = v | 0;
  }
  /** @internal shift applied to the window field we send */
  rcvWscale = 0;
  /** @internal MSS we advertised */
  rcvMss = 536;
  /** @internal largest segment payload seen from the peer (delayed-ACK "full-sized") */
  rcvMssSeen = 0;
  /** @internal receive buffer (bounds the advertised window) */
  rcvBufSize: number;
  /** @internal in-order bytes held for the application (paused or not bound yet); made on first use, as most connections never hold any */
  held: Uint8Array[] | null = null;
  /** @internal */ heldBytes = 0;
  /** @internal the application paused reading */
  paused = false;
  /** @internal out-of-order data */
  ooo: ReassemblyQueue | null = null;
  /** @internal the peer's FIN beyond a gap: its sequence number, or -1 */
  peerFinSeq = -1;
  /** @internal the peer's FIN was processed but onClose('peer-fin') waits for held data */
  finUpcallPending = false;
  /** @internal the application called close(): it reads no more */
  appClosed = false;
  /** @internal clock time a segment of this connection last arrived (keepalive) */
  lastHeardAt = 0;

  // --- acknowledgement state
  /** @internal when we last answered an unacceptable pure ACK (-1: never) */
  lastOowAck = -1;
  /** @internal an ACK must go out at the end of this activation */
  ackNow = false;
  /** @internal bytes received and not yet acknowledged */
  ackOwed = 0;
  /** @internal the delayed-ACK timer is armed for the data now owed */
  delackPending = false;

  // --- options
  /** @internal */ tsOk = false;
  private i_tsRecent = 0;
  /** @internal */
  get tsRecent(): number {
    return this.i_tsRecent >>> 0;
  }
  set tsRecent(v: number) {
    this.i_tsRecent = v | 0;
  }
  /** @internal */ tsOffset = 0;
  private i_lastAckSent = 0;
  /** @internal */
  get lastAckSent(): number {
    return this.i_lastAckSent >>> 0;
  }
  set lastAckSent(v: number) {
    this.i_lastAckSent = v | 0;
  }
  /** @internal */ sackOk = false;
  /** @internal both sides sent the window-scale option */
  wsOk = false;

  // --- timing and congestion
  /** @internal */ readonly rtt: RttEstimator;
  private i_rttSeq = 0;
  /** @internal RTT measurement without timestamps: seq being timed, when sent */
  get rttSeq(): number {
    return this.i_rttSeq >>> 0;
  }
  set rttSeq(v: number) {
    this.i_rttSeq = v | 0;
  }
  /** @internal */ rttTime = 0;
  /** @internal */ rttTiming = false;
  /** @internal */ readonly cc: Congestion;
  /** @internal what the peer reported holding above snd.una (SACK) */
  readonly sacked = new Scoreboard();
  /** @internal SACK recovery just started: its first retransmission goes whatever cwnd says (RFC 6675 5 step 4.3) */
  forceRetransmit = false;
  /** @internal consecutive timeouts of the same data */
  retries = 0;
  /** @internal when new data acknowledged last told the lower its next hop is reachable (at most once a second) */
  reachableHintAt = -Infinity;
  /** @internal the RTO timer is serving as the persist (zero-window probe) timer */
  persisting = false;
  /** @internal the RTO timer is serving as the tail loss probe timer (RFC 8985 7), armed for ptoMs */
  probing = false;
  /** @internal */ ptoMs = 0;
  /** @internal a loss probe was sent and no ACK of new data came since */
  probeOut = false;
  /** @internal the probe timer fired: this many new segments may exceed cwnd */
  lossProbe = 0;
  /** @internal output sent new data: restart the probe timer when it is done */
  sentNewData = false;
  /** @internal the override timeout fired: send even a small segment */
  forceSend = false;
  /** @internal persist backoff exponent */
  persistShift = 0;
  /** @internal when the last segment was sent (idle restart) */
  lastSendAt = 0;

  /** @internal */ rtoTimer!: ModuleTimer;
  private delack: ModuleTimer | null = null;
  private wait: ModuleTimer | null = null;

  /** @internal set when onClose('closed') has been delivered */
  closeDelivered = false;
  /** @internal onClose('closed') waits for held data to reach a paused reader */
  closedPending = false;

  constructor(
    /** The module this connection belongs to. */
    readonly tcp: Tcp,
    readonly localIp: IpAddress,
    readonly localPort: number,
    readonly remoteIp: IpAddress,
    readonly remotePort: number,
    /** Opened by a listener (passive) or by connect (active). */
    readonly passive: boolean,
  ) {
    const cfg = tcp.config;
    this.createdAt = tcp.rt.clock.now();
    this.rcvBufSize = cfg.receiveBufferSize;
    this.rtt = new RttEstimator(cfg.initialRtoMs, cfg.minRtoMs, cfg.maxRtoMs);
    this.cc = new Congestion(536, cfg.initialWindowSegments, 0);
  }

  /**
   * @internal The delayed-ACK timer, made on first use: a connection that has
   * only opened (and one that never receives data) needs none.
   */
  get delackTimer(): ModuleTimer {
    return (this.delack ??= this.tcp.sideTimer(this, 'delack'));
  }

  /** @internal TIME_WAIT 2MSL, FIN_WAIT_2 timeout, deferred connect errors; made on first use, as delackTimer */
  get waitTimer(): ModuleTimer {
    return (this.wait ??= this.tcp.sideTimer(this, 'wait'));
  }

  get state(): TcpState {
    return STATE_NAMES[this.st]!;
  }

  get localAddress(): string {
    return formatIp(this.localIp);
  }

  get remoteAddress(): string {
    return formatIp(this.remoteIp);
  }

  /** 4 or 6. */
  get family(): 4 | 6 {
    return typeof this.remoteIp === 'number' ? 4 : 6;
  }

  /** Bytes handed to send() and not yet acknowledged. */
  get bufferedAmount(): number {
    return this.sendBuf.length;
  }

  /** Received bytes held because reading is paused or no handler is bound yet. */
  get heldAmount(): number {
    return this.heldBytes;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Smoothed RTT (ms) and current RTO (ms), congestion window and slow-start threshold (bytes). */
  get timing(): { srtt: number; rto: number; cwnd: number; ssthresh: number; mss: number } {
    return { srtt: this.rtt.srtt, rto: this.rtt.rto, cwnd: this.cc.cwnd, ssthresh: this.cc.ssthresh, mss: this.sndMss };
  }

  describe(): string {
    return `tcp ${formatEndpoint(this.localIp, this.localPort)} -> ${formatEndpoint(this.remoteIp, this.remotePort)} ${this.state}`;
  }

  /**
   * Queue bytes to send (strings as UTF-8). Returns false when the send buffer
   * is above its high-water mark (the bytes are queued all the same; wait for
   * onDrain before sending more). Data queued inside an upcall leaves after
   * the upcall returns, with the ACK of what was just received.
   */
  send(data: Uint8Array | string): boolean {
    return this.tcp.connSend(this, data);
  }

  /** Ask for one onSendReady upcall when the window has room. */
  armSend(): void {
    this.tcp.connArm(this);
  }

  /** Half-close: a FIN follows the queued data; receiving goes on. */
  shutdown(): void {
    this.tcp.connShutdown(this);
  }

  /** Close both directions: FIN after queued data; data still arriving afterwards resets the connection. */
  close(): void {
    this.tcp.connClose(this);
  }

  /** Reset the connection now (RST to the peer); no further upcalls. */
  abort(): void {
    this.tcp.connAbort(this);
  }

  /** Stop onData upcalls; arriving data is held and the window closes as it fills. */
  pause(): void {
    this.tcp.connPause(this);
  }

  /** Deliver held data and reopen the window. */
  resume(): void {
    this.tcp.connResume(this);
  }

  setNoDelay(on = true): void {
    this.noDelay = on;
  }

  /**
   * TCP keepalive, as Node's `socket.setKeepAlive(enable, initialDelay)`: after
   * `initialDelayMs` of silence from the peer (0: the module's keepaliveIdleMs),
   * probe it; no answer to keepaliveProbes probes fails the connection with ETIMEDOUT.
   */
  setKeepAlive(enable = false, initialDelayMs = 0): void {
    this.tcp.connKeepAlive(this, enable, initialDelayMs);
  }

  /**
   * Bind this connection's handlers (an accepted connection whose onAccept did
   * not return them, or to replace them). `owner` defaults to the listener's
   * or connector's owner module.
   */
  bind(handlers: Partial<TcpSlots>, owner?: Module, client?: unknown): void {
    this.tcp.connBind(this, handlers, owner, client);
  }
}
