/**
 * A three-module chain for runtime tests: Bottom (an event source, like a NIC)
 * upcalls Middle (like TCP), which upcalls whoever bound its per-client slots
 * (like Telnet). Each records what it saw, so tests assert on behaviour.
 */
import { FAILED, Module, PENDING, Runtime, SlotTable, VirtualClock, type Binding } from '../../src/core/index.js';

export interface BottomSlots {
  onInput(key: string, value: number): void;
}

export class Bottom extends Module<{ delivered: number }, string> {
  readonly table = new SlotTable<BottomSlots>(this, 'input', { onInput: 'one' });
  readonly cleaned: Array<[string | undefined, string]> = [];
  constructor(rt: Runtime) {
    super(rt, 'bottom', { delivered: 0 });
  }

  /** An event arrives: starts a task here, like a frame at a NIC. */
  arrive(key: string, value: number, deadlineMs?: number): unknown {
    return this.startTask(
      'frame',
      () => {
        this.claim(key);
        const b = this.table.bindingFor('onInput');
        if (b === undefined) {
          this.drop('unbound');
          return undefined;
        }
        const r = this.upcall(b, 'onInput', key, value);
        if (r !== FAILED) this.shared.delivered++;
        return r;
      },
      deadlineMs !== undefined ? { deadlineMs } : undefined,
    );
  }

  readonly echo = this.entry('echo', 'reentrant', (v: number) => v);

  protected override cleanup(client: string | undefined, reason: string): void {
    this.cleaned.push([client, reason]);
  }
}

export interface MiddleSlots {
  onValue(client: Client, value: number): unknown;
}

export class Client {
  readonly sent: number[] = [];
  open = true;
  binding!: Binding<MiddleSlots>;
  constructor(readonly key: string) {}
  describe(): string {
    return `client ${this.key}`;
  }
}

/** Upcall site and entry points with each recursion policy. */
export class Middle extends Module<{ clients: Map<string, Client> }, Client> {
  readonly table = new SlotTable<MiddleSlots>(this, 'clients', { onValue: 'one' });
  readonly log2: string[] = [];
  readonly cleaned: Array<[string | undefined, string]> = [];
  constructor(rt: Runtime, bottom: Bottom) {
    super(rt, 'middle', { clients: new Map() });
    bottom.table.bind(this, { onInput: (k, v) => this.input(k, v) });
  }

  open(key: string, owner: Module, h: Partial<MiddleSlots>): Client {
    const c = new Client(key);
    const table = new SlotTable<MiddleSlots>(this, `client-${key}`, { onValue: 'one' });
    c.binding = table.bind(owner, h, c);
    this.shared.clients.set(key, c);
    return c;
  }

  private input(key: string, value: number): unknown {
    const c = this.shared.clients.get(key);
    if (c === undefined || !c.open) {
      this.drop('no-client', key);
      return undefined;
    }
    this.claim(c);
    this.log2.push(`in ${key}:${value}`);
    const r = this.upcall(c.binding, 'onValue', c, value);
    if (r === FAILED) return FAILED;
    this.log2.push(`after-upcall ${key}`);
    return r;
  }

  /** Upcall while holding the lock: rule 2 must refuse it. */
  badInput(key: string): void {
    const c = this.shared.clients.get(key)!;
    this.lock.locked(() => this.upcall(c.binding, 'onValue', c, 0));
  }

  readonly sendReentrant = this.entry('sendReentrant', 'reentrant', (c: Client, v: number) => {
    c.sent.push(v);
    this.log2.push(`send ${c.key}:${v}`);
    return v;
  });
  readonly sendDeferred = this.entry('sendDeferred', 'defer', (c: Client, v: number) => {
    c.sent.push(v);
    this.log2.push(`send ${c.key}:${v}`);
  });
  readonly sendRejected = this.entry('sendRejected', 'reject', (c: Client, v: number) => {
    c.sent.push(v);
    return v;
  });

  protected override cleanup(client: Client | undefined, reason: string): void {
    this.cleaned.push([client?.key, reason]);
    if (client !== undefined) {
      client.open = false;
      client.binding.unbind();
      this.shared.clients.delete(client.key);
    }
  }
}

export class Top extends Module<undefined, Client> {
  readonly cleaned: Array<[string | undefined, string]> = [];
  constructor(rt: Runtime) {
    super(rt, 'top');
  }
  protected override cleanup(client: Client | undefined, reason: string): void {
    this.cleaned.push([client?.key, reason]);
  }
}

export function chain(seed = 1): { rt: Runtime; clock: VirtualClock; bottom: Bottom; middle: Middle; top: Top } {
  const clock = new VirtualClock();
  const rt = new Runtime({ name: 'test', clock, seed });
  const bottom = new Bottom(rt);
  const middle = new Middle(rt, bottom);
  const top = new Top(rt);
  return { rt, clock, bottom, middle, top };
}

export { FAILED, PENDING };
