/**
 * The checker's results kept on disk, keyed by content: the checker's own
 * sources, the compiler's version, the tsconfig, the options, and every
 * analysed file. An entry also lists, with their hashes, the other project
 * files the program read (the runtime, when checking a fixture), and is used
 * only while they are unchanged. A run answered here loads no compiler.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CheckResult } from './model.js';
import { typescriptVersion } from './ts.js';

const VERSION = 1;

function hash(data: string | Buffer): string {
  return crypto.createHash('sha1').update(data).digest('hex');
}

function fileHash(file: string): string | undefined {
  try {
    return hash(fs.readFileSync(file));
  } catch {
    return undefined;
  }
}

let fingerprint: string | undefined;

/** The checker's own code and the compiler it uses: a change to either is a new cache. */
function checkerFingerprint(): string {
  if (fingerprint === undefined) {
    const dir = path.dirname(fileURLToPath(import.meta.url));
    const parts = [String(VERSION), typescriptVersion()];
    for (const name of fs.readdirSync(dir).sort()) {
      if (/\.(ts|js)$/.test(name) && !name.endsWith('.d.ts')) parts.push(name, fileHash(path.join(dir, name)) ?? '');
    }
    fingerprint = hash(parts.join('\n'));
  }
  return fingerprint;
}

interface Entry {
  deps: [string, string][];
  result: CheckResult;
}

export interface CacheKeyInput {
  cwd: string;
  files: readonly string[];
  tsconfig: string | undefined;
  options: unknown;
}

export class ResultCache {
  constructor(readonly dir: string) {}

  /** The default place: node_modules/.cache of the project, where tools keep theirs. */
  static defaultDir(cwd: string): string {
    return path.join(cwd, 'node_modules', '.cache', 'upcall-stack-check');
  }

  key(input: CacheKeyInput): string {
    const parts = [checkerFingerprint(), input.cwd, JSON.stringify(input.options)];
    if (input.tsconfig !== undefined) parts.push(input.tsconfig, fileHash(input.tsconfig) ?? '');
    for (const f of [...input.files].sort()) parts.push(f, fileHash(f) ?? '');
    return hash(parts.join('\n'));
  }

  get(key: string): CheckResult | undefined {
    let entry: Entry;
    try {
      entry = JSON.parse(fs.readFileSync(path.join(this.dir, `${key}.json`), 'utf8')) as Entry;
    } catch {
      return undefined;
    }
    for (const [file, h] of entry.deps) if (fileHash(file) !== h) return undefined;
    return entry.result;
  }

  /** Best effort: a cache that cannot be written is no cache, not an error. */
  set(key: string, deps: readonly string[], result: CheckResult): void {
    const entry: Entry = { deps: deps.map((f) => [f, fileHash(f) ?? '']), result };
    try {
      fs.mkdirSync(this.dir, { recursive: true });
      const file = path.join(this.dir, `${key}.json`);
      const tmp = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, JSON.stringify(entry));
      fs.renameSync(tmp, file);
    } catch {
      // read-only tree, full disk: the next run computes again
    }
  }
}
