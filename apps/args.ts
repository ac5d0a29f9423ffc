/**
 * One command-line parser for every CLI of the project, on `node:util` parseArgs.
 *
 * An app declares its options in a table (kind, help, placeholder, default,
 * range or parse function); the table gives both the parser and the `--help`
 * text, so the two cannot drift. Every bad argument becomes a `UsageError`
 * whose message is one line; `runCommand` prints it as
 * `<prog>: <what is wrong> (try --help)` on stderr and exits 2, never with a
 * stack trace.
 *
 * Flags several CLIs share are declared once here (`SHARED`) so they mean the
 * same everywhere:
 *   --seed N     an integer 0..4294967295, the seed of every random choice;
 *   --loss P     a probability 0..1 that a frame is lost, each direction (not a
 *                percent: `--loss 2` is an error that says so);
 *   --delay MS   one-way link delay in milliseconds, 0..10000;
 *   --json       machine-readable output: stdout carries JSON objects only, one a line;
 *   --pcap FILE  write a capture to FILE, relative to the current directory;
 *                its folder must exist (checked before the run).
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs as nodeParseArgs } from 'node:util';

/** A bad command line: the message is one line saying what is wrong. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

interface Common {
  readonly help: string;
  /** One-letter alias ('h' for -h). */
  readonly short?: string;
  /** The value's name in the help text (FILE, MS, N). */
  readonly placeholder?: string;
}

export interface FlagSpec extends Common {
  readonly kind: 'flag';
}

export interface NumberSpec extends Common {
  readonly kind: 'number';
  readonly default?: number;
  readonly integer?: boolean;
  readonly min?: number;
  readonly max?: number;
  /** The rule as the error message states it; default built from the range. */
  readonly rule?: string;
  /** Extra hint for a value that breaks the rule (e.g. percent vs probability). */
  readonly hint?: (n: number) => string | undefined;
}

export interface StringSpec<T = string> extends Common {
  readonly kind: 'string';
  readonly default?: T;
  /** Turns the text into the value; throws (any Error) to reject it. */
  readonly parse?: (text: string) => T;
  /** The option may be given several times; the value is the list. */
  readonly multiple?: boolean;
}

export type OptionSpec = FlagSpec | NumberSpec | StringSpec<unknown>;
export type OptionTable = Readonly<Record<string, OptionSpec>>;

type ValueOf<S> = S extends FlagSpec
  ? boolean
  : S extends NumberSpec
    ? S extends { default: number } ? number : number | undefined
    : S extends StringSpec<infer T>
      ? S extends { multiple: true } ? T[] : S extends { default: unknown } ? T : T | undefined
      : never;

/** The parsed values, keyed by option name (as declared, e.g. 'no-pcap'). */
export type Values<O extends OptionTable> = { -readonly [K in keyof O]: ValueOf<O[K]> };

export interface CommandSpec<O extends OptionTable> {
  /** The program's name in messages ('demo', 'replay'). */
  readonly prog: string;
  /** What follows the program name in the synopsis, e.g. 'FILE [options]'. */
  readonly synopsis?: string;
  /** A paragraph under the usage line. */
  readonly summary?: string;
  readonly options: O;
  /** Positional arguments allowed (default 0). */
  readonly positionals?: { readonly min?: number; readonly max?: number; readonly name?: string };
  /** Text after the options (examples, exit status). */
  readonly epilog?: string;
}

export interface Parsed<O extends OptionTable> {
  readonly values: Values<O>;
  readonly positionals: string[];
  /** Options given on the command line (not defaulted). */
  readonly given: ReadonlySet<keyof O & string>;
}

const HELP: FlagSpec = { kind: 'flag', short: 'h', help: 'print this help and exit' };

/** Makes a typed option table (keeps literal types for `Values`). */
export function options<O extends OptionTable>(o: O): O {
  return o;
}

function describeRule(s: NumberSpec): string {
  if (s.rule !== undefined) return s.rule;
  const what = s.integer === true ? 'an integer' : 'a number';
  if (s.min !== undefined && s.max !== undefined) return `${what} in ${s.min}..${s.max}`;
  if (s.min !== undefined) return `${what} >= ${s.min}`;
  if (s.max !== undefined) return `${what} <= ${s.max}`;
  return what;
}

function parseNumber(flag: string, s: NumberSpec, text: string): number {
  const n = Number(text);
  const ok = text.trim() !== '' && Number.isFinite(n) && (s.integer !== true || Number.isInteger(n)) && (s.min === undefined || n >= s.min) && (s.max === undefined || n <= s.max);
  if (!ok) {
    const hint = Number.isFinite(n) ? s.hint?.(n) : undefined;
    throw new UsageError(`${flag}: ${JSON.stringify(text)} is not ${describeRule(s)}${hint !== undefined ? ` (${hint})` : ''}`);
  }
  return n;
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0]!;

/**
 * Parses `argv` against the table. Returns 'help' for -h/--help (wherever it
 * stands); throws UsageError for anything wrong.
 */
export function parseCommand<O extends OptionTable>(spec: CommandSpec<O>, argv: readonly string[]): Parsed<O> | 'help' {
  const table: Record<string, OptionSpec> = { ...spec.options };
  if (!('help' in table)) table['help'] = HELP;
  const config: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  const shortToLong = new Map<string, string>();
  for (const [name, s] of Object.entries(table)) {
    config[name] = { type: s.kind === 'flag' ? 'boolean' : 'string', ...(s.short !== undefined ? { short: s.short } : {}) };
    if (s.short !== undefined) shortToLong.set(s.short, name);
  }
  // Non-strict with tokens: the checks and their messages are ours, one line each.
  const { tokens } = nodeParseArgs({ args: [...argv], options: config, strict: false, allowPositionals: true, tokens: true });
  if (tokens.some((t) => t.kind === 'option' && (t.name === 'help' || t.name === 'h') && table[t.name] === HELP)) return 'help';
  const values: Record<string, unknown> = {};
  const given = new Set<string>();
  const positionals: string[] = [];
  for (const t of tokens) {
    if (t.kind === 'positional') {
      positionals.push(t.value);
      continue;
    }
    if (t.kind !== 'option') continue;
    const name = shortToLong.get(t.name) !== undefined && t.rawName.length === 2 ? shortToLong.get(t.name)! : t.name;
    const s = table[name];
    const flag = t.rawName.startsWith('--') ? `--${name}` : t.rawName;
    if (s === undefined) throw new UsageError(`unknown option ${t.rawName}`);
    if (s.kind === 'flag') {
      if (t.inlineValue === true) throw new UsageError(`${flag} takes no value`);
      values[name] = true;
    } else {
      const text = t.value;
      // A value that looks like another option is a forgotten value ('--pcap --json'); '-1' is a value.
      if (text === undefined || (t.inlineValue !== true && /^--?[A-Za-z]/.test(text))) {
        throw new UsageError(`${flag} needs a value${s.placeholder !== undefined ? ` (${s.placeholder})` : ''}`);
      }
      let v: unknown;
      if (s.kind === 'number') v = parseNumber(flag, s, text);
      else if (s.parse !== undefined) {
        try {
          v = s.parse(text);
        } catch (e) {
          if (e instanceof UsageError) throw e;
          throw new UsageError(`${flag}: ${messageOf(e)}`);
        }
      } else {
        if (text === '') throw new UsageError(`${flag} needs a value${s.placeholder !== undefined ? ` (${s.placeholder})` : ''}`);
        v = text;
      }
      if (s.kind === 'string' && s.multiple === true) ((values[name] ??= []) as unknown[]).push(v);
      else values[name] = v;
    }
    given.add(name);
  }
  for (const [name, s] of Object.entries(spec.options)) {
    if (name in values) continue;
    if (s.kind === 'flag') values[name] = false;
    else if (s.kind === 'string' && s.multiple === true) values[name] = [];
    else if (s.default !== undefined) values[name] = s.default;
  }
  const min = spec.positionals?.min ?? 0;
  const max = spec.positionals?.max ?? 0;
  if (positionals.length > max) {
    throw new UsageError(max === 0 ? `unexpected argument ${JSON.stringify(positionals[0])}` : `too many arguments: ${positionals.slice(max).map((p) => JSON.stringify(p)).join(' ')}`);
  }
  if (positionals.length < min) throw new UsageError(`missing ${spec.positionals?.name ?? 'argument'}`);
  return { values: values as Values<O>, positionals, given: given as Set<keyof O & string> };
}

/** The `--help` text, made from the table. */
export function formatHelp<O extends OptionTable>(spec: CommandSpec<O>, invocation = defaultInvocation(spec.prog)): string {
  const lines: string[] = [`usage: ${invocation}${spec.synopsis !== undefined ? ` ${spec.synopsis}` : ' [options]'}`];
  if (spec.summary !== undefined) lines.push('', spec.summary);
  const table: Record<string, OptionSpec> = { ...spec.options, ...('help' in spec.options ? {} : { help: HELP }) };
  const left = (name: string, s: OptionSpec): string =>
    `${s.short !== undefined ? `-${s.short}, ` : ''}--${name}${s.kind === 'flag' ? '' : ` ${s.placeholder ?? (s.kind === 'number' ? 'N' : 'VALUE')}`}`;
  const rows = Object.entries(table).map(([name, s]) => {
    let help = s.help;
    const d = s.kind === 'flag' ? undefined : s.default;
    if (d !== undefined && !/\(default/.test(help)) help += ` (default ${String(d)})`;
    if (s.kind === 'string' && s.multiple === true) help += ' (repeatable)';
    return [left(name, s), help] as const;
  });
  const width = Math.min(28, Math.max(...rows.map(([l]) => l.length)));
  lines.push('', 'options:');
  for (const [l, h] of rows) lines.push(l.length > width ? `  ${l}\n  ${' '.repeat(width)}  ${h}` : `  ${l.padEnd(width)}  ${h}`);
  if (spec.epilog !== undefined) lines.push('', spec.epilog);
  return lines.join('\n') + '\n';
}

/** How the user started the command: `npm run X --` from a clone, the `upcall-stack` bin when compiled. */
function defaultInvocation(prog: string): string {
  return import.meta.url.endsWith('.js') ? `upcall-stack ${prog}` : `npm run ${prog} --`;
}

// ---------------------------------------------------------------------------
// Checks on paths an app will write, done before the run

/** The folder a file will be written in must exist and be writable; the file must not be a folder. */
export function checkOutputFile(flag: string, path: string): string {
  const full = resolve(path);
  const dir = dirname(full);
  if (!existsSync(dir)) throw new UsageError(`${flag} ${path}: folder ${dir} does not exist (create it first)`);
  if (!statSync(dir).isDirectory()) throw new UsageError(`${flag} ${path}: ${dir} is not a folder`);
  if (existsSync(full) && statSync(full).isDirectory()) throw new UsageError(`${flag} ${path}: is a folder; give a file name`);
  try {
    accessSync(existsSync(full) ? full : dir, constants.W_OK);
  } catch {
    throw new UsageError(`${flag} ${path}: not writable`);
  }
  return path;
}

/** A folder that will receive files: it exists and is writable, or its parent does (it is then created by the run). */
export function checkOutputDir(flag: string, path: string): string {
  const full = resolve(path);
  if (existsSync(full)) {
    if (!statSync(full).isDirectory()) throw new UsageError(`${flag} ${path}: exists and is not a folder`);
    try {
      accessSync(full, constants.W_OK);
    } catch {
      throw new UsageError(`${flag} ${path}: folder not writable`);
    }
    return path;
  }
  const parent = dirname(full);
  if (!existsSync(parent) || !statSync(parent).isDirectory()) throw new UsageError(`${flag} ${path}: folder ${parent} does not exist (create it first)`);
  try {
    accessSync(parent, constants.W_OK);
  } catch {
    throw new UsageError(`${flag} ${path}: cannot create it in ${parent} (not writable)`);
  }
  return path;
}

/** An existing readable file. */
export function checkInputFile(flag: string, path: string): string {
  const full = resolve(path);
  if (!existsSync(full)) throw new UsageError(`${flag} ${path}: no such file`);
  if (statSync(full).isDirectory()) throw new UsageError(`${flag} ${path}: is a folder, not a file`);
  return path;
}

// ---------------------------------------------------------------------------
// Flags shared by several CLIs: one meaning everywhere

const percentHint = (n: number): string | undefined => (n > 1 && n <= 100 ? `a probability, not a percent: for ${n}% write ${n / 100}` : undefined);

export const SHARED = {
  seed: (dflt = 1): NumberSpec & { default: number } => ({
    kind: 'number', placeholder: 'N', integer: true, min: 0, max: 0xffff_ffff, default: dflt,
    help: 'seed of every random choice (same seed, same run)',
  }),
  loss: (dflt = 0): NumberSpec & { default: number } => ({
    kind: 'number', placeholder: 'P', min: 0, max: 1, default: dflt, rule: 'a probability in 0..1', hint: percentHint,
    help: 'probability that a frame is lost, each direction (0..1, not a percent)',
  }),
  delay: (dflt = 1): NumberSpec & { default: number } => ({
    kind: 'number', placeholder: 'MS', min: 0, max: 10_000, default: dflt, rule: 'a delay in ms (0..10000)',
    help: 'one-way link delay, ms',
  }),
  json: (what = 'print JSON objects on stdout, one a line, and nothing else'): FlagSpec => ({ kind: 'flag', help: what }),
  pcap: (what = 'write the frames to this pcap file (its folder must exist)'): StringSpec<string> => ({
    kind: 'string', placeholder: 'FILE', help: what, parse: (p) => checkOutputFile('--pcap', p),
  }),
} as const;

/** An integer option. */
export function integer(help: string, o: { placeholder?: string; min?: number; max?: number; default?: number; rule?: string } = {}): NumberSpec {
  return { kind: 'number', integer: true, help, placeholder: o.placeholder ?? 'N', ...o };
}

// ---------------------------------------------------------------------------
// Running a command

/**
 * A data file of the package, e.g. 'apps/data/users.json': relative to the
 * folder above this module's, which is the project root when the apps run from
 * source and dist/ when compiled (the build copies the data files there).
 */
export function packageFile(rel: string): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', rel);
}

/** Whether the module with this import.meta.url is the script Node was started with. */
export function isEntryPoint(metaUrl: string): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  if (metaUrl === pathToFileURL(resolve(script)).href) return true;
  // tsx may be given the name without its extension.
  return /\.[cm]?[jt]s$/.test(metaUrl) && metaUrl.replace(/\.[cm]?[jt]s$/, '') === pathToFileURL(resolve(script)).href.replace(/\.[cm]?[jt]s$/, '');
}

/** The one-line report of a bad command line. */
export function usageLine(prog: string, e: UsageError): string {
  return `${prog}: ${e.message} (try --help)\n`;
}

/**
 * Runs `main` as the process's command: exit with its status; a UsageError
 * escaping it is one line and exit 2; anything else one line and exit 1
 * (the stack only with UPCALL_DEBUG=1).
 */
export function runCommand(prog: string, main: (argv: readonly string[]) => Promise<number>): void {
  // A reader that stops early (`| head`) closes the pipe: that ends the output, not in a stack
  // trace, and not as a failure of its own (a status the command already set stands).
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
    process.stderr.write(`${prog}: ${messageOf(e)}\n`);
    process.exit(1);
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
      // Leftover handles (sockets, timers of a real clock) must not hold a finished command.
      const exit = (): void => void setImmediate(() => process.exit(code)).unref();
      // Output a pipe has not taken yet is still queued: exit() would drop it (`replay --json | jq` lost its tail).
      // An empty write calls back once everything before it is written.
      if (process.stdout.writableLength > 0) process.stdout.write('', exit);
      else exit();
    },
    (e: unknown) => {
      if (e instanceof UsageError) {
        process.stderr.write(usageLine(prog, e));
        process.exit(2);
      }
      process.stderr.write(`${prog}: ${process.env['UPCALL_DEBUG'] === '1' && e instanceof Error ? e.stack : messageOf(e)}\n`);
      process.exit(1);
    },
  );
}
