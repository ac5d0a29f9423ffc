import { describe, expect, it } from 'vitest';
import { formatTable, printable } from '../../../src/layers/telnet/table.js';

describe('formatTable', () => {
  it('pads columns to the widest cell, numbers right-aligned, text left-aligned', () => {
    const lines = formatTable({
      columns: ['Proto', 'Local', 'State', 'RecvQ'],
      rows: [
        ['tcp', '10.0.0.1:23', 'ESTABLISHED', 0],
        ['tcp', '10.0.0.1:2323', 'LISTEN', 1234],
      ],
    });
    expect(lines).toEqual([
      'Proto  Local          State        RecvQ',
      'tcp    10.0.0.1:23    ESTABLISHED      0',
      'tcp    10.0.0.1:2323  LISTEN        1234',
    ]);
  });

  it('honours explicit alignment, fills missing cells, trims trailing blanks', () => {
    expect(formatTable({ columns: ['a', 'bb'], rows: [['x'], ['yyy', 'z']], align: ['right', 'left'] })).toEqual([
      '  a  bb',
      '  x',
      'yyy  z',
    ]);
  });

  it('prints only the header for an empty table, and counts characters not UTF-16 units', () => {
    expect(formatTable({ columns: ['PID', 'NAME'], rows: [] })).toEqual(['PID  NAME']);
    expect(formatTable({ columns: ['n', 'x'], rows: [['😀', 1], ['ab', 2]] })).toEqual(['n   x', '😀   1', 'ab  2']);
  });

  it('makes control characters in cells harmless', () => {
    expect(printable('a\x1b[2Jb\r\n')).toBe('a?[2Jb??');
    expect(formatTable({ columns: ['t'], rows: [['\x07x']] })).toEqual(['t', '?x']);
  });
});
