/**
 * The built-in shell behind the Telnet login. It touches nothing of the real
 * machine: every fact it prints comes from the `ShellEnv` the host provides
 * (the stack's clock, its tables, its own ping). Output uses NVT newlines ("\r\n")
 * and control characters from the environment are made printable.
 */
import { formatTable, printable } from './table.js';
import type { Table } from './table.js';

export interface ShellEnv {
  /** The logged-in user. */
  readonly user: string;
  readonly hostName: string;
  /** The stack's clock, in milliseconds since the Unix epoch. */
  now(): number;
  /** When the stack started, on the same clock. */
  readonly startedAt: number;
  /** Connections: one row per TCP connection. */
  netstat(): Table;
  /** Tasks and modules. */
  ps(): Table;
  /** Counters. */
  stats(): Table;
  /**
   * Pings `host` through the stack, writing each line of output as it happens
   * (no line terminator). Resolves when done; should stop early, and resolve
   * or reject, when `signal` aborts.
   */
  ping(host: string, write: (line: string) => void, signal: AbortSignal): Promise<void>;
}

export interface ExecuteOptions {
  /** Aborted when the user interrupts (Ctrl-C) or the connection goes away. */
  signal?: AbortSignal;
  /** Where long-running commands (ping) write their lines as they come. Without
   *  it, their output is collected into the result. */
  write?: (text: string) => void;
}

export interface ShellResult {
  /** Text to send, "\r\n" line endings, empty or ending with "\r\n". */
  output: string;
  /** The user asked to leave: close the session after sending `output`. */
  exit?: boolean;
}

export interface Shell {
  /** "user@host$ " */
  prompt(): string;
  /** Runs one command line. Never rejects: failures become output. */
  execute(line: string, options?: ExecuteOptions): Promise<ShellResult>;
  /**
   * Like `execute`, but a command that finishes at once (all but `ping`) returns
   * its result synchronously, so a caller inside a receive upcall can send the
   * output in the same task (and the same segment) as the echo.
   */
  run(line: string, options?: ExecuteOptions): ShellResult | Promise<ShellResult>;
  /** The command names, sorted. */
  readonly commands: readonly string[];
}

const NL = '\r\n';

/** Splits a command line into words: blanks separate, '...' and "..." quote, \ escapes. */
export function tokenize(line: string): { ok: true; words: string[] } | { ok: false; reason: string } {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === '\\' && quote === '"' && i + 1 < line.length) word += line[++i];
      else word += ch;
    } else if (ch === ' ' || ch === '\t') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      inWord = true;
      if (ch === '"' || ch === "'") quote = ch;
      else if (ch === '\\' && i + 1 < line.length) word += line[++i];
      else word += ch;
    }
  }
  if (quote) return { ok: false, reason: 'unterminated quote' };
  if (inWord) words.push(word);
  return { ok: true, words };
}

/** "up 3 days, 04:05:06" from a duration in milliseconds. */
export function formatUptime(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const days = Math.floor(total / 86400);
  const hms = [Math.floor(total / 3600) % 24, Math.floor(total / 60) % 60, total % 60].map((n) => String(n).padStart(2, '0')).join(':');
  return days > 0 ? `up ${days} day${days === 1 ? '' : 's'}, ${hms}` : `up ${hms}`;
}

const text = (lines: readonly string[]) => (lines.length === 0 ? '' : lines.map(printable).join(NL) + NL);

const errorMessage = (e: unknown) => (e instanceof Error ? e.message : String(e));

interface Command {
  usage: string;
  help: string;
  run(args: string[], options: ExecuteOptions): ShellResult | Promise<ShellResult>;
}

export function createShell(env: ShellEnv): Shell {
  const tableCommand = (name: string, source: () => Table, help: string): Command => ({
    usage: name,
    help,
    run: () => {
      try {
        return { output: text(formatTable(source())) };
      } catch (e) {
        return { output: text([`${name}: ${errorMessage(e)}`]) };
      }
    },
  });

  const commands: Record<string, Command> = {
    help: {
      usage: 'help [COMMAND]',
      help: 'list the commands, or describe one',
      run: ([name]) => {
        if (name !== undefined) {
          const c = Object.hasOwn(commands, name) ? commands[name] : undefined;
          return { output: text(c ? [`${c.usage}: ${c.help}`] : [`help: no such command: ${name}`]) };
        }
        const names = Object.keys(commands).sort();
        const width = Math.max(...names.map((n) => commands[n]!.usage.length));
        return { output: text(names.map((n) => `${commands[n]!.usage.padEnd(width)}  ${commands[n]!.help}`)) };
      },
    },
    echo: { usage: 'echo [WORD...]', help: 'print the words', run: (args) => ({ output: text([args.join(' ')]) }) },
    whoami: { usage: 'whoami', help: 'print your user name', run: () => ({ output: text([env.user]) }) },
    date: {
      usage: 'date',
      help: "print the stack's date and time (UTC)",
      run: () => {
        const d = new Date(env.now());
        return { output: text([Number.isNaN(d.getTime()) ? 'date: clock out of range' : d.toISOString()]) };
      },
    },
    uptime: {
      usage: 'uptime',
      help: 'how long the stack has been running',
      run: () => ({ output: text([formatUptime(env.now() - env.startedAt)]) }),
    },
    netstat: tableCommand('netstat', () => env.netstat(), 'list TCP connections'),
    ps: tableCommand('ps', () => env.ps(), 'list tasks'),
    stats: tableCommand('stats', () => env.stats(), "print the stack's counters"),
    ping: {
      usage: 'ping HOST',
      help: 'send ICMP echo requests through the stack',
      run: async (args, options) => {
        if (args.length !== 1) return { output: text(['usage: ping HOST']) };
        const collected: string[] = [];
        const write = options.write;
        const emit = write ? (line: string) => write(text([line])) : (line: string) => void collected.push(line);
        const signal = options.signal ?? new AbortController().signal;
        try {
          await env.ping(args[0]!, emit, signal);
        } catch (e) {
          if (!signal.aborted) collected.push(`ping: ${errorMessage(e)}`);
        }
        return { output: text(collected) };
      },
    },
    exit: { usage: 'exit', help: 'log out', run: () => ({ output: '', exit: true }) },
    logout: { usage: 'logout', help: 'log out', run: () => ({ output: '', exit: true }) },
  };

  return {
    commands: Object.keys(commands).sort(),
    prompt: () => printable(`${env.user}@${env.hostName}$ `),
    async execute(line: string, options: ExecuteOptions = {}): Promise<ShellResult> {
      return run(line, options);
    },
    run,
  };

  function run(line: string, options: ExecuteOptions = {}): ShellResult | Promise<ShellResult> {
    const parsed = tokenize(line);
    if (!parsed.ok) return { output: text([`sh: ${parsed.reason}`]) };
    const [name, ...args] = parsed.words;
    if (name === undefined) return { output: '' };
    const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
    if (!command) return { output: text([`sh: ${name}: command not found`]) };
    const failed = (e: unknown): ShellResult => ({ output: text([`${name}: ${errorMessage(e)}`]) });
    try {
      const r = command.run(args, options);
      return r instanceof Promise ? r.catch(failed) : r;
    } catch (e) {
      return failed(e);
    }
  }
}
