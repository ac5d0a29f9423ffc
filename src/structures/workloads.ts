/**
 * The applications the structure comparison runs, written once against
 * AppEnv so they run unchanged on every structure (in this thread or in a
 * worker of their own). Each answers control requests `{ cmd, rid, ... }`
 * with `{ rid, ... }`.
 *
 *  - udpEchoServer / udpEchoClient: 64-byte UDP echo, one datagram in flight;
 *  - tcpEchoServer / tcpRequestClient: request/response on one connection;
 *  - bulkSink / bulkSource: one-way TCP transfer, pumped by send/onDrain;
 *  - streamSink / streamSource: a patterned byte stream, checked byte by byte
 *    at the sink (the correctness test under loss and reordering);
 *  - loginServer / loginClient: the Telnet login service and a typist.
 */
import { TelnetClient } from '../layers/telnet/client.js';
import type { ClientSession, ScriptStep } from '../layers/telnet/client-session.js';
import { TelnetServer } from '../layers/telnet/server.js';
import type { ShellEnv } from '../layers/telnet/shell.js';
import type { StreamConnection, StreamSlots } from '../layers/telnet/transport.js';
import { hashPasswordSync, parseStoredHash, UserDb } from '../layers/telnet/users.js';
import { parseIp4 } from '../wire/addr.js';
import type { AppEnv } from './app.js';

const SERVER = parseIp4('10.0.0.2');
const ECHO_PORT = 7;
const BULK_PORT = 9;
const STREAM_PORT = 19;
const LOGIN_PORT = 23;

type Req = Record<string, unknown> & { cmd: string; rid: number };

const registries = new WeakMap<AppEnv, Record<string, (r: Req) => void>>();

/** Add `handlers` to the commands `env`'s control line answers (several applications may share one line). */
function serve(env: AppEnv, handlers: Record<string, (r: Req) => void>): void {
  let all = registries.get(env);
  if (all === undefined) {
    const table: Record<string, (r: Req) => void> = {};
    all = table;
    registries.set(env, table);
    const driver = env.rt.app(`${env.rt.name}-driver`);
    env.control.onMessage((m) => {
      const r = m as Req;
      const h = table[r.cmd];
      // Each request is work of the application: a task of its own there.
      if (h !== undefined) driver.startTask('input', () => h(r));
      else env.control.send({ rid: r.rid, error: `unknown command ${r.cmd}` });
    });
  }
  Object.assign(all, handlers);
}

function now(env: AppEnv): number {
  return env.rt.clock.now();
}

// ---------------------------------------------------------------------------
// UDP echo

export function udpEchoServer(env: AppEnv): void {
  const owner = env.rt.app('udp-echo');
  const sock = env.udp.bind(ECHO_PORT, owner, { onDatagram: (d) => void sock.send(d.src, d.srcPort, d.payload) });
  serve(env, {});
}

export function udpEchoClient(env: AppEnv): void {
  const owner = env.rt.app('udp-client');
  let left = 0;
  let sentAt = 0;
  let rtts: number[] = [];
  let rid = 0;
  let payload = new Uint8Array(64);
  const sock = env.udp.bind(5007, owner, {
    onDatagram: () => {
      rtts.push((now(env) - sentAt) * 1000);
      if (--left > 0) {
        sentAt = now(env);
        sock.send(SERVER, ECHO_PORT, payload);
      } else env.control.send({ rid, rttsUs: rtts });
    },
  });
  serve(env, {
    'udp-run': (r) => {
      rid = r.rid;
      left = r.n as number;
      rtts = [];
      payload = new Uint8Array((r.size as number | undefined) ?? 64).fill(0x61);
      sentAt = now(env);
      sock.send(SERVER, ECHO_PORT, payload);
    },
  });
}

// ---------------------------------------------------------------------------
// TCP request/response

export function tcpEchoServer(env: AppEnv): void {
  const owner = env.rt.app('tcp-echo');
  // Binding in onAccept (not returning the handlers): under a mailbox the return value is lost.
  const handlers: Partial<StreamSlots> = { onData: (c, d) => void c.send(d), onClose: (c, how) => void (how === 'peer-fin' && c.close()) };
  env.tcp.listen(ECHO_PORT, owner, { onAccept: (c) => void c.bind(handlers, owner) }, { noDelay: true });
  serve(env, {});
}

export function tcpRequestClient(env: AppEnv): void {
  const owner = env.rt.app('tcp-client');
  let conn: StreamConnection | null = null;
  let rid = 0;
  let left = 0;
  let want = 0;
  let got = 0;
  let sentAt = 0;
  let rtts: number[] = [];
  let request = new Uint8Array(64);
  const next = (): void => {
    got = 0;
    sentAt = now(env);
    conn!.send(request);
  };
  serve(env, {
    'tcp-connect': (r) => {
      conn = env.tcp.connect(SERVER, ECHO_PORT, owner, {
        onConnect: () => env.control.send({ rid: r.rid }),
        onData: (_c, d) => {
          got += d.length;
          if (got < want) return;
          rtts.push((now(env) - sentAt) * 1000);
          if (--left > 0) next();
          else env.control.send({ rid, rttsUs: rtts });
        },
      }, { noDelay: true });
    },
    'tcp-run': (r) => {
      rid = r.rid;
      left = r.n as number;
      want = (r.size as number | undefined) ?? 64;
      request = new Uint8Array(want).fill(0x62);
      rtts = [];
      next();
    },
  });
}

// ---------------------------------------------------------------------------
// TCP bulk

export function bulkSink(env: AppEnv): void {
  const owner = env.rt.app('bulk-sink');
  let received = 0;
  const handlers: Partial<StreamSlots> = {
    onData: (_c, d) => void (received += d.length),
    onClose: (c, how) => void (how === 'peer-fin' && c.close()),
  };
  env.tcp.listen(BULK_PORT, owner, { onAccept: (c) => void c.bind(handlers, owner) });
  serve(env, { 'bulk-received': (r) => env.control.send({ rid: r.rid, bytes: received }) });
}

const CHUNK = new Uint8Array(64 * 1024).fill(0x63);

export function bulkSource(env: AppEnv): void {
  const owner = env.rt.app('bulk-source');
  serve(env, {
    'bulk-run': (r) => {
      const total = r.bytes as number;
      let queued = 0;
      const t0 = now(env);
      const pump = (c: StreamConnection): void => {
        while (queued < total) {
          const n = Math.min(CHUNK.length, total - queued);
          queued += n;
          if (!c.send(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) return;
        }
        c.close();
      };
      const handlers: Partial<StreamSlots> & { onDrain(c: StreamConnection): void } = {
        onConnect: pump,
        onDrain: pump,
        onClose: (_c, how) => {
          // The sink closes when it has read our FIN: everything arrived.
          if (how === 'closed' || how === 'peer-fin') env.control.send({ rid: r.rid, ms: now(env) - t0 });
        },
        onError: (_c, e) => env.control.send({ rid: r.rid, error: e.message }),
      };
      env.tcp.connect(SERVER, BULK_PORT, owner, handlers as Partial<StreamSlots>);
    },
  });
}

// ---------------------------------------------------------------------------
// A checked byte stream (correctness under faults)

function patternByte(i: number): number {
  return (i * 7 + (i >>> 8)) & 0xff;
}

export function streamSink(env: AppEnv): void {
  const owner = env.rt.app('stream-sink');
  let received = 0;
  let bad = -1;
  let closed = false;
  const handlers: Partial<StreamSlots> = {
    onData: (_c, d) => {
      for (let i = 0; i < d.length; i++) if (bad < 0 && d[i] !== patternByte(received + i)) bad = received + i;
      received += d.length;
    },
    onClose: (c, how) => {
      if (how === 'peer-fin') {
        closed = true;
        c.close();
      }
    },
  };
  env.tcp.listen(STREAM_PORT, owner, { onAccept: (c) => void c.bind(handlers, owner) });
  serve(env, { 'stream-result': (r) => env.control.send({ rid: r.rid, bytes: received, firstBad: bad, closed }) });
}

export function streamSource(env: AppEnv): void {
  const owner = env.rt.app('stream-source');
  serve(env, {
    'stream-run': (r) => {
      const total = r.bytes as number;
      const writes = (r.writes as number | undefined) ?? 1000;
      let sent = 0;
      const pump = (c: StreamConnection): void => {
        while (sent < total) {
          const n = Math.min(writes, total - sent);
          const chunk = new Uint8Array(n);
          for (let i = 0; i < n; i++) chunk[i] = patternByte(sent + i);
          sent += n;
          if (!c.send(chunk)) return;
        }
        c.close();
      };
      const handlers: Partial<StreamSlots> & { onDrain(c: StreamConnection): void } = {
        onConnect: pump,
        onDrain: pump,
        onClose: (_c, how) => void (how === 'closed' && env.control.send({ rid: r.rid, sent })),
        onError: (_c, e) => env.control.send({ rid: r.rid, error: e.message }),
      };
      env.tcp.connect(SERVER, STREAM_PORT, owner, handlers as Partial<StreamSlots>);
    },
  });
}

// ---------------------------------------------------------------------------
// Remote login

/** Cheap scrypt parameters: the benchmark measures the stack, not the password hash. */
function demoUsers(): UserDb {
  const parsed = parseStoredHash(hashPasswordSync('demo', { N: 1024, r: 8, p: 1 }));
  if (!parsed.ok) throw new Error(parsed.reason);
  return new UserDb(new Map([['demo', parsed.value]]));
}

function shellEnvFor(env: AppEnv): (user: string) => ShellEnv {
  const empty = { columns: ['-'], rows: [] };
  return (user) => ({
    user,
    hostName: 'server',
    now: () => env.rt.clock.wallTime(),
    startedAt: env.rt.clock.wallTime(),
    netstat: () => empty,
    ps: () => empty,
    stats: () => empty,
    ping: async (_host, write) => write('ping: not in this benchmark'),
  });
}

export function loginServer(env: AppEnv): void {
  const server = new TelnetServer(env.rt, env.tcp, { users: demoUsers(), shellEnv: shellEnvFor(env), port: LOGIN_PORT });
  server.start();
  env.asyncWork?.(server.work);
  serve(env, {});
}

export function loginClient(env: AppEnv): void {
  const client = new TelnetClient(env.rt, env.tcp);
  const clock = env.rt.clock;
  let s: ClientSession | null = null;
  // Checked when text arrives or the session ends (no polling: a poll would be
  // tasks of its own, counted against the keystrokes).
  let waiting: { cond: () => boolean; then: () => void } | null = null;
  const check = (): void => {
    const w = waiting;
    if (w !== null && w.cond()) {
      waiting = null;
      w.then();
    }
  };
  // After the client has taken the text in (echo times recorded, script advanced).
  const soon = (): void => void clock.schedule(clock.now(), check);
  const when = (cond: () => boolean, then: () => void): void => {
    waiting = { cond, then };
    check();
  };
  serve(env, {
    'login': (r) => {
      const pace = (r.paceMs as number | undefined) ?? 150;
      const script: ScriptStep[] = [
        { expect: 'login: ', delayMs: pace, type: 'demo\r', paceMs: pace, label: 'login' },
        { expect: 'Password: ', delayMs: pace, type: 'demo\r', paceMs: pace, label: 'password', secret: true },
        { expect: '$ ' },
      ];
      const session = client.connect(SERVER, LOGIN_PORT, { script, onText: soon, onClose: soon });
      s = session;
      when(() => session.scriptDone || session.state === 'closed', () => env.control.send({ rid: r.rid, ok: session.error === null && session.state !== 'closed', error: session.error }));
    },
    'login-type': (r) => {
      const session = s!;
      const text = r.text as string;
      const pace = (r.paceMs as number | undefined) ?? 150;
      const settleMs = (r.settleMs as number | undefined) ?? 300;
      const first = session.keystrokes.length;
      let i = 0;
      const key = (): void => {
        client.input(session, text[i]!);
        if (++i < text.length) clock.schedule(clock.now() + pace, key);
        else soon();
      };
      key();
      when(
        () => i >= text.length && session.keystrokes.slice(first).every((k) => !k.expectsEcho || k.echoAt !== null),
        () =>
          clock.schedule(clock.now() + settleMs, () => {
            const ks = session.keystrokes.slice(first);
            env.control.send({ rid: r.rid, keys: ks.length, echoMs: ks.filter((k) => k.echoAt !== null).map((k) => k.echoAt! - k.at) });
          }),
      );
    },
    'login-exit': (r) => {
      const session = s!;
      client.input(session, '\rexit\r');
      when(() => session.state === 'closed', () => env.control.send({ rid: r.rid, ok: session.error === null, transcript: session.screen.text }));
    },
  });
}

// ---------------------------------------------------------------------------
// Everything at once (one testbed serves every workload: threads start once)

export function allServers(env: AppEnv): void {
  udpEchoServer(env);
  tcpEchoServer(env);
  bulkSink(env);
  streamSink(env);
  loginServer(env);
}

export function allClients(env: AppEnv): void {
  udpEchoClient(env);
  tcpRequestClient(env);
  bulkSource(env);
  streamSource(env);
  loginClient(env);
}
