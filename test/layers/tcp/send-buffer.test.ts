import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SendBuffer } from '../../../src/layers/tcp/send-buffer.js';

describe('SendBuffer', () => {
  it('behaves like a byte queue under any sequence of appends, reads and consumes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.record({ add: fc.integer({ min: 0, max: 9000 }) }), fc.record({ take: fc.integer({ min: 0, max: 9000 }) })), { maxLength: 60 }),
        (ops) => {
          const sb = new SendBuffer();
          const model: number[] = [];
          let next = 0;
          for (const op of ops) {
            if ('add' in op) {
              const chunk = new Uint8Array(op.add).map(() => next++ & 0xff);
              sb.append(chunk, 0, chunk.length);
              model.push(...chunk);
            } else {
              const n = Math.min(op.take, model.length);
              sb.consume(n);
              model.splice(0, n);
            }
            expect(sb.length).toBe(model.length);
            if (model.length > 0) {
              const off = Math.floor(model.length / 3);
              const len = model.length - off;
              const out = new Uint8Array(len + 2);
              sb.copyOut(off, out, 1, len);
              expect([...out.subarray(1, 1 + len)]).toEqual(model.slice(off));
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses to read past its contents', () => {
    const sb = new SendBuffer();
    sb.append(new Uint8Array(10), 0, 10);
    expect(() => sb.copyOut(5, new Uint8Array(10), 0, 6)).toThrow(RangeError);
  });
});
