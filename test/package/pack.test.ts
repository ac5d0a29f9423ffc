/**
 * The package as a user gets it: `npm pack` (which builds dist/), the tarball
 * installed into a scratch project in a temporary folder (its dependencies from
 * the registry or npm's cache), and there, with plain `node` (no tsx, no
 * TypeScript at run time): a program that moves bytes over TCP between two
 * hosts, the loop checker through `upcall-stack/check` on a fixture, the
 * `upcall-stack` command, and a TypeScript consumer type-checked against the
 * published declarations.
 *
 * Slow (build + pack + install, tens of seconds): `npm run test:package`.
 */
import { execFile, type ExecFileException } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_FINDINGS, writeCheckFixture } from './check-fixture.js';

const ROOT = process.cwd();
const PKG = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  devDependencies: Record<string, string>;
};
const PCAP = path.join(ROOT, 'test/fixtures/traces/telnet-raw.pcap');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const NPX = process.platform === 'win32' ? 'npx.cmd' : 'npx';

// An npm script's own variables (this test may run under `npm run`) must not leak into the scratch project's npm.
const env = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^(npm_package_|npm_lifecycle_|npm_config_local_prefix$|npm_command$|INIT_CWD$)/i.test(k)),
);

// `npx upcall-stack` as a user types it, but never fetching a package of that name if the bin were missing
const npxEnv = { ...env, npm_config_yes: 'false' };

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function sh(cmd: string, args: readonly string[], cwd: string, timeoutMs = 120_000): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env: cmd === NPX ? npxEnv : env, timeout: timeoutMs, maxBuffer: 64 << 20 }, (err: ExecFileException | null, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

function ok(r: Ran, what: string): Ran {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}\n${r.stderr}\n${r.stdout}`.slice(0, 4000));
  return r;
}

let tmp = '';
let app = '';
let packed: { filename: string; files: { path: string }[] } | undefined;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'upcall-pack-'));
  // prepack builds dist/ first
  const pack = ok(await sh(NPM, ['pack', '--json', '--pack-destination', tmp], ROOT, 300_000), 'npm pack');
  // the prepack build prints before npm's JSON
  packed = (JSON.parse(pack.stdout.slice(pack.stdout.search(/^\[/m))) as (typeof packed)[])[0];
  app = path.join(tmp, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
  // typescript only for the checker and the consumer's type check: the stack itself must not need it
  ok(
    await sh(
      NPM,
      ['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(tmp, packed!.filename), `typescript@${PKG.devDependencies.typescript}`],
      app,
      300_000,
    ),
    'npm install',
  );
}, 600_000);

afterAll(() => {
  if (tmp !== '') fs.rmSync(tmp, { recursive: true, force: true });
});

const TCP_PROGRAM = `
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { createHost, SimLink, VirtualClock, wire } from 'upcall-stack';

const clock = new VirtualClock();
const link = new SimLink(clock, { seed: 3, delayMs: 1, loss: 0.02 });
const a = createHost({ name: 'a', link, ip: '10.0.0.1/24', tcp: true });
const b = createHost({ name: 'b', link, ip: '10.0.0.2/24', tcp: true });

const sent = new Uint8Array(200_000);
let x = 12345;
for (let i = 0; i < sent.length; i++) { x = (x * 1103515245 + 12345) >>> 0; sent[i] = x >>> 24; }

const chunks = [];
let got = 0;
a.tcp.listen(9, a.rt.app('sink'), {
  onAccept: () => ({ onData: (_c, data) => { chunks.push(data.slice()); got += data.length; } }),
});
const conn = b.tcp.connect(wire.parseIp4('10.0.0.1'), 9, b.rt.app('source'), {
  onConnect: (c) => { c.send(sent); c.shutdown(); },
});
clock.runUntil(() => got >= sent.length && conn.state === 'FIN-WAIT-2', 120_000);

const received = Buffer.concat(chunks);
const sha = (u) => createHash('sha256').update(u).digest('hex');
const cache = Object.keys(createRequire(import.meta.url).cache);
console.log(JSON.stringify({
  sent: sent.length,
  received: received.length,
  equal: Buffer.from(sent).equals(received),
  sha: sha(sent) === sha(received),
  state: conn.state,
  typescriptLoaded: cache.some((f) => /[\\\\/]node_modules[\\\\/]typescript[\\\\/]/.test(f)),
}));
`;

const CHECK_PROGRAM = `
import { checkLoops, unsafeCount } from 'upcall-stack/check';
const r = checkLoops({ paths: ['src'] });
console.log(JSON.stringify({ modules: r.modules, unsafe: unsafeCount(r),
  chains: r.cycles.filter((c) => c.kind === 'unsafe').map((c) => c.chain.map((h) => h.module + '.' + h.function).join(' -> ')) }));
`;

const TS_CONSUMER = `
import { createHost, SimLink, VirtualClock, type Host } from 'upcall-stack';
import { checkLoops, type CheckResult } from 'upcall-stack/check';

const clock = new VirtualClock();
const link = new SimLink(clock, { seed: 1, delayMs: 1 });
const h: Host = createHost({ name: 'h', link, ip: '10.0.0.1/24', tcp: true });
const run: (paths: string[]) => CheckResult = (paths) => checkLoops({ paths });
export const n: number = h.stats().length + (typeof run === 'function' ? 1 : 0);
// @ts-expect-error the checker is not part of the stack's entry point
export { checkLoops as nope } from 'upcall-stack';
`;

describe('the packed package, installed', () => {
  it('ships the build, the bin, the license and no sources or tests', () => {
    const files = packed!.files.map((f) => f.path);
    for (const f of ['package.json', 'LICENSE', 'README.md', 'bin/upcall-stack.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/check/index.js', 'dist/apps/replay.js', 'dist/apps/data/users.json']) {
      expect(files, f).toContain(f);
    }
    expect(files.filter((f) => /^(src|test|apps)\//.test(f) || (f.endsWith('.ts') && !f.endsWith('.d.ts')))).toEqual([]);
    const installed = JSON.parse(fs.readFileSync(path.join(app, 'node_modules', PKG.name, 'package.json'), 'utf8')) as { version: string };
    expect(installed.version).toBe(PKG.version);
    // outside the checker, no built file (code or declarations) refers to typescript
    const mentions = files.filter(
      (f) => f.startsWith('dist/') && !f.startsWith('dist/src/check/') && f !== 'dist/apps/check-loops.js' &&
        /['"]typescript['"/]/.test(fs.readFileSync(path.join(app, 'node_modules', PKG.name, f), 'utf8')),
    );
    expect(mentions).toEqual([]);
  });

  it("plain node: 'upcall-stack' moves 200 kB over TCP between two hosts on a simulated link, without loading typescript", async () => {
    fs.writeFileSync(path.join(app, 'tcp.mjs'), TCP_PROGRAM);
    const r = ok(await sh(process.execPath, ['tcp.mjs'], app), 'node tcp.mjs');
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual({
      sent: 200_000,
      received: 200_000,
      equal: true,
      sha: true,
      state: 'FIN-WAIT-2', // our FIN sent after the data and acknowledged
      typescriptLoaded: false,
    });
  });

  it("plain node: 'upcall-stack/check' finds the fixture's unsafe cycle", async () => {
    const proj = path.join(app, 'checked');
    writeCheckFixture(proj, 'upcall-stack');
    fs.writeFileSync(path.join(proj, 'check.mjs'), CHECK_PROGRAM);
    const r = ok(await sh(process.execPath, ['check.mjs'], proj), 'node check.mjs');
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual({
      modules: FIXTURE_FINDINGS.modules,
      unsafe: FIXTURE_FINDINGS.unsafe.length,
      chains: FIXTURE_FINDINGS.unsafe,
    });
    // the same through the command: exit 1 means "an unsafe cycle was found"
    const cli = await sh(NPX, ['upcall-stack', 'check-loops', 'src'], proj);
    expect(cli.code, cli.stderr).toBe(1);
    expect(cli.stdout).toContain('lower.send');
  });

  it('npx upcall-stack: --help, replay of a capture, the demo, and a one-line error for an unknown command', async () => {
    const help = ok(await sh(NPX, ['upcall-stack', '--help'], app), 'npx upcall-stack --help');
    for (const c of ['demo', 'replay', 'check-loops', 'ping', 'tunnel-host']) expect(help.stdout).toContain(c);

    const replay = ok(await sh(NPX, ['upcall-stack', 'replay', PCAP], app), 'npx upcall-stack replay');
    expect(replay.stdout).toContain('TCP stream 0: 192.168.0.2:1254 -> 192.168.0.1:23');
    expect(replay.stdout).toContain('1e57217203e5da839f1f66f51658741991bed3887962ab9f3c73f59fa1e848a0');

    // the demo logs in with the account file shipped beside the compiled app
    const demo = ok(await sh(NPX, ['upcall-stack', 'demo', '--json'], app), 'npx upcall-stack demo --json');
    const summary = JSON.parse(demo.stdout.trim().split('\n').pop()!) as { keystrokes: number; echoedKeystrokes: number };
    expect(summary.keystrokes).toBeGreaterThan(0);
    expect(summary.echoedKeystrokes).toBe(summary.keystrokes);

    const bad = await sh(NPX, ['upcall-stack', 'frobnicate'], app);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^upcall-stack: unknown command 'frobnicate'; usage: upcall-stack <demo\|replay\|check-loops\|ping\|tunnel-host> .*\n$/);
  });

  it('a TypeScript consumer type-checks against the published declarations (both entry points)', async () => {
    const dir = path.join(app, 'consumer');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'main.ts'), TS_CONSUMER);
    fs.writeFileSync(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: true, types: [] }, files: ['main.ts'] }),
    );
    const tsc = path.join(app, 'node_modules/typescript/bin/tsc');
    const r = await sh(process.execPath, [tsc, '-p', dir], dir);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
