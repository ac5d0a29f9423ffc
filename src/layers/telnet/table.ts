/**
 * Plain-text tables for the shell: columns padded to their widest cell,
 * numbers right-aligned, two spaces between columns.
 */

export type Cell = string | number | bigint;

export interface Table {
  readonly columns: readonly string[];
  readonly rows: readonly (readonly Cell[])[];
  /** Per column; default: right for columns whose cells are all numbers, left otherwise. */
  readonly align?: readonly ('left' | 'right')[];
}

const GAP = '  ';

/** Control characters would let a cell (a peer's terminal name, say) drive the user's terminal. */
export function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, '?');
}

const width = (s: string) => [...s].length;

/** The table as lines (no line terminators, no trailing spaces). */
export function formatTable(table: Table): string[] {
  const ncols = table.columns.length;
  const cells = table.rows.map((row) => {
    const out: string[] = [];
    for (let c = 0; c < ncols; c++) {
      const v = row[c];
      out.push(v === undefined ? '' : printable(String(v)));
    }
    return out;
  });
  const header = table.columns.map(printable);
  const widths = header.map(width);
  for (const row of cells) row.forEach((cell, c) => (widths[c] = Math.max(widths[c]!, width(cell))));
  const align = table.columns.map((_, c) => {
    const given = table.align?.[c];
    if (given) return given;
    const numeric = table.rows.length > 0 && table.rows.every((r) => typeof r[c] === 'number' || typeof r[c] === 'bigint');
    return numeric ? 'right' : 'left';
  });
  const line = (row: string[]) =>
    row
      .map((cell, c) => {
        const pad = ' '.repeat(widths[c]! - width(cell));
        return align[c] === 'right' ? pad + cell : cell + pad;
      })
      .join(GAP)
      .trimEnd();
  return [line(header), ...cells.map(line)];
}
