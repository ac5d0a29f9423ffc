/**
 * Hand-made callback registries: a module keeping its clients' callbacks itself
 * (a Map, an array, a field) instead of binding them through a SlotTable.
 * Calling them is a plain call, so the runtime never puts the client's module
 * on the task's path: reported where a client's callback is stored.
 */
import type * as ts from 'typescript';
import type { Extraction } from './context.js';
import type { FnNode } from './graph.js';
import { skipOuter } from './syntax.js';
import { TS } from './ts.js';

/**
 * A module keeping a client's callback: a function-typed parameter (or a
 * handler object) of one of its methods stored into one of its own fields or
 * containers. Reported once per field.
 */
export function registryStore(cx: Extraction, fn: FnNode, target: ts.Expression, value: ts.Expression, at: ts.Node): void {
  const mod = fn.lexical;
  if (mod === undefined || TS.isConstructorDeclaration(fn.decl)) return;
  let holder = skipOuter(target);
  if (TS.isElementAccessExpression(holder)) holder = skipOuter(holder.expression);
  if (!TS.isPropertyAccessExpression(holder) || holder.expression.kind !== TS.SyntaxKind.ThisKeyword) return;
  const v = skipOuter(value);
  if (!TS.isIdentifier(v)) return;
  const param = cx.calleeDecls(v).find((d): d is ts.ParameterDeclaration => TS.isParameter(d));
  if (param === undefined || param.type === undefined || cx.lexicalModule(param) !== mod) return;
  const t = cx.checker.getNonNullableType(cx.checker.getTypeFromTypeNode(param.type));
  const callable = (x: ts.Type): boolean => cx.checker.getNonNullableType(x).getCallSignatures().length > 0;
  // A function, or a set of handlers (an interface's or type literal's function members); not a class instance.
  const cls = (t.getSymbol()?.flags ?? 0) & TS.SymbolFlags.Class;
  const handlerMember = (p: ts.Symbol): boolean =>
    (p.declarations ?? []).some((d) => (TS.isMethodSignature(d) || TS.isPropertySignature(d)) && cx.analysed.has(d.getSourceFile())) &&
    callable(cx.checker.getTypeOfSymbol(p));
  const isCallback = callable(t) || (cls === 0 && cx.checker.getPropertiesOfType(t).some(handlerMember));
  if (!isCallback) return;
  const field = holder.name.text;
  if (cx.registries.some((r) => r.class === mod.className && r.file === mod.file && r.field === field)) return;
  cx.registries.push({ module: mod.name, class: mod.className, file: cx.rel(at.getSourceFile().fileName), line: cx.lineOf(at), field, function: fn.name });
}
