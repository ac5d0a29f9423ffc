/**
 * A program driven through its stdin and stdout pipes, as a person at a
 * terminal would: wait until a prompt shows, then type. Enough of `expect`
 * for the Linux telnet client, which works on pipes (no pty needed): a "\n"
 * written to it goes on the wire as CR LF, Enter.
 */
import type { ChildProcess } from 'node:child_process';

export class PipeTerminal {
  /** Everything the program wrote, stdout and stderr interleaved as they came. */
  output = '';
  private mark = 0;
  private readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.output += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.output += d));
    child.stdin!.on('error', () => {});
    this.exit = new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  }

  /**
   * Wait until `pattern` appears in the output written since the previous match.
   * Rejects with the output so far when `timeoutMs` passes or the program exits first.
   */
  async waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<RegExpExecArray> {
    const end = Date.now() + timeoutMs;
    let exited = false;
    void this.exit.then(() => (exited = true));
    for (;;) {
      const m = pattern.exec(this.output.slice(this.mark));
      if (m !== null) {
        this.mark += m.index + m[0].length;
        return m;
      }
      if (exited || Date.now() > end) {
        throw new Error(`${exited ? 'program exited' : `timed out after ${timeoutMs} ms`} waiting for ${pattern}; output:\n${this.output}`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  type(text: string): void {
    this.child.stdin!.write(text);
  }

  /** Resolves with the exit status, or kills the program after `timeoutMs`. */
  async exited(timeoutMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const t = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exit;
    } finally {
      clearTimeout(t);
    }
  }
}
