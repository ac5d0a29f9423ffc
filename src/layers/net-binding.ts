/**
 * What the binding entries of a network layer do, whatever the family: IPv4
 * (`Ip`) and IPv6 (`Ipv6`) each declare their entries (the runtime and the loop
 * checker see them on the module) and hand the work to these.
 */
import { SlotTable, type Binding, type Module, type SlotSpec } from '../core/index.js';

/** Binds `handlers` for `owner` in `table` under `module`'s lock. */
export function bindLocked<H extends object>(module: Module, table: SlotTable<H>, owner: Module, handlers: Partial<H>): Binding<H> {
  return module.lock.locked(() => table.bind(owner, handlers)) as Binding<H>;
}

/** How a family names the upper-layer protocol field, in errors and slot table names. */
export interface ProtocolNaming {
  /** In the error for a number out of range: 'IP protocol number'. */
  readonly field: string;
  /** Prefix of each protocol's table name: 'protocol'. */
  readonly table: string;
}

/**
 * Binds the handler of one upper-layer protocol number (0..255) in `tables`,
 * making that number's table (one `onPacket` slot) on its first bind.
 */
export function bindUpperProtocol<H extends { onPacket(pkt: never): void }>(
  module: Module,
  tables: Map<number, SlotTable<H>>,
  naming: ProtocolNaming,
  protocol: number,
  owner: Module,
  handlers: Partial<H>,
): Binding<H> {
  if (!(Number.isInteger(protocol) && protocol >= 0 && protocol <= 255)) throw new RangeError(`bad ${naming.field} ${protocol}`);
  return module.lock.locked(() => {
    let t = tables.get(protocol);
    if (t === undefined) {
      t = new SlotTable<H>(module, `${naming.table} ${protocol}`, { onPacket: 'one' } as SlotSpec<H>);
      tables.set(protocol, t);
    }
    return t.bind(owner, handlers);
  }) as Binding<H>;
}

/** The fan-out table of observers of what a network layer delivers (`onPacket`) and sends (`onSend`). */
export function netTapTable<H extends { onPacket(pkt: never): void; onSend(pkt: never): void }>(module: Module): SlotTable<H> {
  return new SlotTable<H>(module, 'taps', { onPacket: 'many', onSend: 'many' } as SlotSpec<H>);
}
