/**
 * What crosses a mailbox. A direct upcall lends its arguments for the duration
 * of the call (a view into a frame, a parsed header over it); a queued upcall
 * runs after the frame is gone, so the runtime hands the mailbox copies instead,
 * as a message system with its own format would. Byte arrays are copied as they
 * are; any other argument that is a view implements DETACH to say how.
 */
export const DETACH: unique symbol = Symbol('upcall-stack.detach');

export interface Detachable<T> {
  /** A copy that stays valid after the upcall returns. */
  [DETACH](): T;
}

export function detachArg(a: unknown): unknown {
  if (a instanceof Uint8Array) return a.slice();
  if (a !== null && typeof a === 'object') {
    const d = (a as Partial<Detachable<unknown>>)[DETACH];
    if (typeof d === 'function') return d.call(a);
  }
  return a;
}
