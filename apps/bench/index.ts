/**
 * Runs the benchmarks, one process each so none inherits another's heap or JIT
 * state, and prints their tables (or, with --json, their JSON lines).
 *
 *   npm run bench                      # every benchmark that can run here
 *   npm run bench -- tcp-bulk replay   # just these
 *   npm run bench -- --json
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface Bench {
  readonly name: string;
  readonly what: string;
  /** Needs root and network namespaces. */
  readonly root?: boolean;
}

const BENCHES: readonly Bench[] = [
  { name: 'runtime', what: 'cost of a task crossing three modules, observed and not' },
  { name: 'checksum', what: 'Internet checksum per byte on 20..9000-byte payloads' },
  { name: 'tcp-bulk', what: 'bulk TCP between two in-process stacks over the sim link (MTU 1500 and 9000)' },
  { name: 'replay', what: 'replaying a million-frame capture, next to tshark' },
  { name: 'check-loops', what: 'the static loop checker on the project and on 200 generated modules' },
  { name: 'interop', what: 'throughput and echo latency against the Linux kernel through TAP', root: true },
];

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const json = args.includes('--json');
const wanted = args.filter((a) => !a.startsWith('--'));
for (const w of wanted) {
  if (!BENCHES.some((b) => b.name === w)) {
    console.error(`npm run bench: unknown benchmark '${w}' (have: ${BENCHES.map((b) => b.name).join(', ')})`);
    process.exit(2);
  }
}
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const selected = BENCHES.filter((b) => (wanted.length === 0 ? !b.root || isRoot : wanted.includes(b.name)));

if (!json) console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}\n`);
let failed = 0;
for (const b of selected) {
  const script = path.join(here, `${b.name}.ts`);
  if (!existsSync(script)) {
    console.error(`${b.name}: not built yet`);
    failed++;
    continue;
  }
  if (!json) console.log(`== ${b.name}: ${b.what}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, ...(json ? ['--json'] : [])], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
  if (!json) console.log('');
}
process.exit(failed === 0 ? 0 : 1);
