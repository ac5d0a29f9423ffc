/**
 * What a user's terminal shows, kept as text: enough of a terminal to make a
 * transcript of a session (backspace erases, bell and other control characters
 * show nothing, a bare carriage return goes back to the start of the line).
 */
export class Screen {
  private done = '';
  private line = '';
  private col = 0;
  /** Characters written so far (an offset `expect` can search from). */
  private written = 0;
  private raw = '';
  private readonly maxRaw: number;

  /** @param maxRaw characters of raw output kept for `search` (older ones are forgotten). */
  constructor(maxRaw = 1 << 20) {
    this.maxRaw = maxRaw;
  }

  write(text: string): void {
    this.raw += text;
    this.written += text.length;
    if (this.raw.length > this.maxRaw) this.raw = this.raw.slice(this.raw.length - this.maxRaw);
    for (const ch of text) {
      if (ch === '\n') {
        this.done += this.line.trimEnd() + '\n';
        this.line = '';
        this.col = 0;
      } else if (ch === '\r') {
        this.col = 0;
      } else if (ch === '\b') {
        if (this.col > 0) this.col--;
      } else if (ch < ' ' || ch === '\x7f') {
        // bell and the rest: nothing visible
      } else {
        this.line = this.line.slice(0, this.col) + ch + this.line.slice(this.col + 1);
        this.col++;
      }
    }
  }

  /** The screen's text: finished lines and the current one (trailing blanks trimmed). */
  get text(): string {
    return this.done + this.line.trimEnd();
  }

  /** The line the cursor is on. */
  get currentLine(): string {
    return this.line;
  }

  /** Total characters written. */
  get length(): number {
    return this.written;
  }

  /**
   * Finds `pattern` in the output written from offset `from` on (raw text, control
   * characters included). Returns the offset just past the match, or -1.
   */
  search(pattern: string | RegExp, from: number): number {
    const base = this.written - this.raw.length;
    const start = Math.max(0, from - base);
    if (typeof pattern === 'string') {
      const i = this.raw.indexOf(pattern, start);
      return i < 0 ? -1 : base + i + pattern.length;
    }
    const re = new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : pattern.flags + 'g');
    re.lastIndex = start;
    const m = re.exec(this.raw);
    return m === null ? -1 : base + m.index + m[0].length;
  }
}
