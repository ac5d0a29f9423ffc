/**
 * Which functions an expression can evaluate to, as declarations: a function
 * literal, a name (variable, field, parameter, method), a bound method, a
 * branch of `?:` or `??`, and callbacks kept in containers. A Map, Set or
 * array of callbacks is known by the declaration holding it (`this.subs`):
 * what is stored into it (`set`, `push`, `add`, `x[i] =`, a literal) becomes
 * what that declaration stands for, and what is taken out of it (`get`, `at`,
 * `x[i]`, `for..of`, `forEach`'s parameter) stands for the same.
 */
import type * as ts from 'typescript';
import type { Extraction } from './context.js';
import { isFunctionWithBody, skipOuter } from './syntax.js';
import { TS } from './ts.js';

const CONTAINERS = new Set(['Map', 'ReadonlyMap', 'WeakMap', 'Set', 'ReadonlySet', 'Array', 'ReadonlyArray', 'ArrayConstructor', 'MapConstructor', 'SetConstructor']);

/** Methods whose result is (or holds) elements of the receiver. */
const TAKE = new Set(['get', 'at', 'pop', 'shift', 'find', 'findLast', 'values', 'entries', 'slice', 'filter', 'toSorted', 'toReversed', 'concat', 'flat', 'from', 'of']);

/** Methods storing arguments into the receiver: which argument index starts the stored values. */
const STORE: ReadonlyMap<string, number> = new Map([
  ['set', 1],
  ['push', 0],
  ['unshift', 0],
  ['add', 0],
  ['splice', 2],
]);

/** The container method a callee names (`map.get`), when it is one of the standard library's. */
export function containerMethod(cx: Extraction, callee: ts.Expression, decls?: readonly ts.Declaration[]): string | undefined {
  if (!TS.isPropertyAccessExpression(callee)) return undefined;
  const name = callee.name.text;
  if (!TAKE.has(name) && !STORE.has(name) && name !== 'forEach' && name !== 'map' && name !== 'some' && name !== 'every' && name !== 'flatMap') return undefined;
  for (const d of decls ?? cx.calleeDecls(callee)) {
    const owner = d.parent;
    if ((TS.isInterfaceDeclaration(owner) || TS.isClassDeclaration(owner)) && owner.name !== undefined && CONTAINERS.has(owner.name.text) && cx.runtime.isLib(d)) {
      return name;
    }
  }
  return undefined;
}

/** Index of the first argument a store method keeps, if `method` stores. */
export function storedFrom(method: string): number | undefined {
  return STORE.get(method);
}

const DECL_KINDS = (d: ts.Node): boolean =>
  isFunctionWithBody(d) ||
  TS.isPropertyDeclaration(d) ||
  TS.isVariableDeclaration(d) ||
  TS.isParameter(d) ||
  TS.isBindingElement(d) ||
  TS.isPropertyAssignment(d) ||
  TS.isShorthandPropertyAssignment(d) ||
  TS.isMethodSignature(d) ||
  TS.isPropertySignature(d);

/** Declarations of the functions an expression can evaluate to. */
export function functionRefs(cx: Extraction, expr: ts.Expression): ts.Node[] {
  const e = skipOuter(expr);
  if (TS.isArrowFunction(e) || TS.isFunctionExpression(e)) return [e];
  if (TS.isElementAccessExpression(e) && !TS.isStringLiteralLike(e.argumentExpression)) {
    // `handlers[i]`: an element of the container.
    return functionRefs(cx, e.expression);
  }
  // A member no analysed code declares (`data.length`) is the library's: never a function of ours.
  if (TS.isPropertyAccessExpression(e) && cx.declaredNames.size > 0 && !cx.declaredNames.has(e.name.text)) return [];
  if (TS.isIdentifier(e) || TS.isPropertyAccessExpression(e) || TS.isElementAccessExpression(e)) {
    return cx.calleeDecls(e).filter((d) => !cx.runtime.isLib(d) && DECL_KINDS(d));
  }
  if (TS.isCallExpression(e)) {
    const c = skipOuter(e.expression);
    // `this.handle.bind(this)`
    if (TS.isPropertyAccessExpression(c) && c.name.text === 'bind') return functionRefs(cx, c.expression);
    if (TS.isPropertyAccessExpression(c)) {
      const m = containerMethod(cx, c);
      if (m !== undefined && TAKE.has(m)) return [...functionRefs(cx, c.expression), ...(m === 'from' || m === 'of' || m === 'concat' ? e.arguments.flatMap((a) => functionRefs(cx, a)) : [])];
    }
    return [];
  }
  if (TS.isNewExpression(e)) {
    // `new Map([[k, f]])`, `new Set([f])`
    const decls = cx.calleeDecls(skipOuter(e.expression));
    if (decls.some((d) => cx.runtime.isLib(d))) return (e.arguments ?? []).flatMap((a) => functionRefs(cx, a));
    return [];
  }
  if (TS.isArrayLiteralExpression(e)) {
    return e.elements.flatMap((x) => (TS.isSpreadElement(x) ? functionRefs(cx, x.expression) : functionRefs(cx, x)));
  }
  if (TS.isConditionalExpression(e)) return [...functionRefs(cx, e.whenTrue), ...functionRefs(cx, e.whenFalse)];
  if (TS.isBinaryExpression(e)) {
    const k = e.operatorToken.kind;
    if (k === TS.SyntaxKind.QuestionQuestionToken || k === TS.SyntaxKind.BarBarToken) return [...functionRefs(cx, e.left), ...functionRefs(cx, e.right)];
    if (k === TS.SyntaxKind.AmpersandAmpersandToken) return functionRefs(cx, e.right);
    // `x ??= f` and `x = f` are worth what x keeps (a function cached in a field).
    if (k === TS.SyntaxKind.QuestionQuestionEqualsToken || k === TS.SyntaxKind.BarBarEqualsToken) return [...functionRefs(cx, e.left), ...functionRefs(cx, e.right)];
    if (k === TS.SyntaxKind.EqualsToken) return functionRefs(cx, e.right);
  }
  return [];
}

/**
 * What a declaration without a function of its own stands for: its
 * initializer, or for a loop variable or a destructured element, the
 * container it is taken from.
 */
export function declSources(cx: Extraction, d: ts.Node): ts.Node[] {
  if ((TS.isPropertyDeclaration(d) || TS.isVariableDeclaration(d) || TS.isPropertyAssignment(d) || TS.isParameter(d)) && d.initializer !== undefined) {
    return functionRefs(cx, d.initializer);
  }
  if (TS.isShorthandPropertyAssignment(d)) return cx.checker.getShorthandAssignmentValueSymbol(d)?.declarations ?? [];
  let v: ts.Node = d;
  while (TS.isBindingElement(v) || TS.isArrayBindingPattern(v) || TS.isObjectBindingPattern(v)) v = v.parent;
  if (TS.isVariableDeclaration(v)) {
    if (v !== d && v.initializer !== undefined) return functionRefs(cx, v.initializer);
    const list = v.parent;
    if (TS.isVariableDeclarationList(list) && TS.isForOfStatement(list.parent)) return functionRefs(cx, list.parent.expression);
  }
  return [];
}
