/**
 * Upcall sites: `this.upcall(binding, slot)` and `upcallAll(table, slot)`, as
 * the declarations of the slot members in the slot set type H of the
 * `Binding<H>` or `SlotTable<H>` they go through.
 */
import type * as ts from 'typescript';
import type { Extraction } from './context.js';
import type { FnNode } from './graph.js';
import { afterAwait, stringLiteral } from './syntax.js';
import { TS } from './ts.js';

export function upcallSite(cx: Extraction, node: ts.CallExpression, fn: FnNode): void {
  const [bindingArg, slotArg] = node.arguments;
  if (bindingArg === undefined || slotArg === undefined) return;
  const h = slotSetType(cx, node, bindingArg);
  if (h === undefined) {
    cx.notes.push(`${cx.where(node)}: cannot tell the slot type of this upcall; not followed`);
    return;
  }
  const slots = literalStrings(cx, slotArg) ?? cx.checker.getPropertiesOfType(h).map((p) => p.name);
  const line = cx.calleeLine(node);
  const pos = node.getStart();
  const async = afterAwait(node, fn.decl);
  for (const slot of slots) {
    const decls = cx.checker.getPropertyOfType(h, slot)?.declarations ?? [];
    for (const d of decls) cx.calledMembers.add(d);
    fn.upcalls.push({ slotDecls: decls, slot, line, pos, async, targets: [] });
  }
}

/** H of the `Binding<H>` or `SlotTable<H>` an upcall goes through. */
function slotSetType(cx: Extraction, node: ts.CallExpression, bindingArg: ts.Expression): ts.Type | undefined {
  const usable = (t: ts.Type | undefined): t is ts.Type =>
    t !== undefined && !(t.flags & (TS.TypeFlags.Any | TS.TypeFlags.Unknown | TS.TypeFlags.TypeParameter | TS.TypeFlags.Never));
  let h = firstTypeArgument(cx, cx.checker.getTypeAtLocation(bindingArg));
  if (!usable(h)) {
    const p0 = cx.checker.getResolvedSignature(node)?.parameters[0];
    h = p0 !== undefined ? firstTypeArgument(cx, cx.checker.getTypeOfSymbol(p0)) : undefined;
  }
  return usable(h) ? h : undefined;
}

function firstTypeArgument(cx: Extraction, t: ts.Type): ts.Type | undefined {
  const nn = cx.checker.getNonNullableType(t);
  if (nn.isUnion()) {
    for (const m of nn.types) {
      const a = firstTypeArgument(cx, m);
      if (a !== undefined) return a;
    }
    return undefined;
  }
  if (nn.flags & TS.TypeFlags.Object && (nn as ts.ObjectType).objectFlags & TS.ObjectFlags.Reference) {
    return cx.checker.getTypeArguments(nn as ts.TypeReference)[0];
  }
  return nn.aliasTypeArguments?.[0];
}

/** The string literals an expression can be, by its type (`'reject' | 'reentrant'`). */
export function literalStrings(cx: Extraction, e: ts.Expression | undefined): string[] | undefined {
  if (e === undefined) return undefined;
  const lit = stringLiteral(e);
  if (lit !== undefined) return [lit];
  const t = cx.checker.getTypeAtLocation(e);
  const parts = t.isUnion() ? t.types : [t];
  const out: string[] = [];
  for (const p of parts) {
    if (!p.isStringLiteral()) return undefined;
    out.push(p.value);
  }
  return out.length > 0 ? out : undefined;
}
