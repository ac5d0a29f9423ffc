/**
 * Values handed over as another type: handlers bound to a slot set, class
 * instances passed where an interface is expected, objects assigned or
 * returned as one. Calling a member of the expected type can then run the
 * same-named member of the value's type. Followed into the members'
 * signatures, so handlers bound through one slot interface reach the upcalls
 * of another it is passed on as (Telnet's StreamSlots handed to TCP as TcpSlots).
 *
 * Also here: the owner a handler is bound for (`bind(owner, handlers)`), so a
 * handler outside any module runs as that module.
 */
import type * as ts from 'typescript';
import type { Extraction } from './context.js';
import type { ModuleRef } from './graph.js';
import { moduleInfo } from './modules.js';
import { isFunctionWithBody, isWrapper, skipOuter, stringLiteral } from './syntax.js';
import { TS } from './ts.js';
import { functionRefs } from './values.js';

export function objectTypes(cx: Extraction, t: ts.Type): ts.Type[] {
  const nn = cx.checker.getNonNullableType(t);
  return nn.isUnion() ? nn.types.filter((m) => (m.flags & TS.TypeFlags.Object) !== 0) : [nn];
}

/** Objects of a type worth relating: some member declared in the analysed code. */
export function worthFlowing(cx: Extraction, t: ts.Type): boolean {
  let w = cx.worth.get(t);
  if (w === undefined) {
    w = cx.checker.getPropertiesOfType(t).some((p) => p.declarations?.some((d) => cx.analysed.has(d.getSourceFile())) === true);
    cx.worth.set(t, w);
  }
  return w;
}

/** An expression whose value can hand code over (a name, an instance, a call's result, an array of them). */
export function mayHandOver(e: ts.Expression): boolean {
  const a = skipOuter(e);
  return mayFlow(a) || TS.isArrayLiteralExpression(a);
}

function mayFlow(a: ts.Expression): boolean {
  return (
    TS.isIdentifier(a) ||
    a.kind === TS.SyntaxKind.ThisKeyword ||
    TS.isNewExpression(a) ||
    TS.isPropertyAccessExpression(a) ||
    TS.isCallExpression(a) ||
    TS.isElementAccessExpression(a)
  );
}

export function paramType(cx: Extraction, sig: ts.Signature, i: number): ts.Type | undefined {
  const params = sig.getParameters();
  const last = params[params.length - 1];
  const lastDecl = last?.valueDeclaration;
  const rest = lastDecl !== undefined && TS.isParameter(lastDecl) && lastDecl.dotDotDotToken !== undefined;
  if (!rest || i < params.length - 1) {
    const p = params[i];
    return p !== undefined ? cx.checker.getTypeOfSymbol(p) : undefined;
  }
  const t = cx.checker.getTypeOfSymbol(last!);
  if (cx.checker.isTupleType(t)) return cx.checker.getTypeArguments(t as ts.TypeReference)[i - (params.length - 1)];
  return cx.checker.isArrayType(t) ? cx.checker.getTypeArguments(t as ts.TypeReference)[0] : undefined;
}

/**
 * A literal that can bind or hand over something: a method, a function, a
 * name or a call as a value, a spread. Options and event records of plain
 * values are skipped without asking for their contextual type (which resolves
 * the call they are passed to).
 */
function mayBind(obj: ts.ObjectLiteralExpression): boolean {
  for (const p of obj.properties) {
    if (!TS.isPropertyAssignment(p)) return true;
    const v = skipOuter(p.initializer);
    if (mayFlow(v) || TS.isArrowFunction(v) || TS.isFunctionExpression(v) || TS.isConditionalExpression(v) || TS.isBinaryExpression(v)) return true;
  }
  return false;
}

/** An object literal: bound as its contextual type. */
export function objectLiteral(cx: Extraction, obj: ts.ObjectLiteralExpression): void {
  if (!mayBind(obj)) return;
  const ctx = argumentType(cx, obj) ?? cx.checker.getContextualType(obj);
  if (ctx === undefined) return;
  bindLiteral(cx, obj, ctx, ownerForLiteral(cx, obj, 0));
}

/**
 * The owner a literal of handlers is bound for: another argument of the call
 * it is passed to, or, for handlers returned by a handler (`onAccept: () =>
 * ({ onData })`), the owner of that handler.
 */
function ownerForLiteral(cx: Extraction, obj: ts.ObjectLiteralExpression, depth: number): ModuleRef | undefined {
  const direct = ownerForArgument(cx, obj);
  if (direct !== undefined || depth > 3) return direct;
  let fn: ts.Node | undefined = obj.parent;
  while (fn !== undefined && !isFunctionWithBody(fn)) fn = fn.parent;
  if (fn === undefined) return undefined;
  let p = fn.parent;
  while (p !== undefined && isWrapper(p)) p = p.parent;
  const holder = TS.isMethodDeclaration(fn) ? fn.parent : TS.isPropertyAssignment(p) ? p.parent : undefined;
  return holder !== undefined && TS.isObjectLiteralExpression(holder) ? ownerForLiteral(cx, holder, depth + 1) : undefined;
}

/** Each function-valued property of the literal implements the same-named member of the type it is given as. */
function bindLiteral(cx: Extraction, obj: ts.ObjectLiteralExpression, ctx: ts.Type, owner: ModuleRef | undefined): void {
  const targets = objectTypes(cx, ctx);
  for (const prop of obj.properties) {
    let values: ts.Node[];
    if (TS.isPropertyAssignment(prop)) values = functionRefs(cx, prop.initializer);
    else if (TS.isShorthandPropertyAssignment(prop)) values = cx.checker.getShorthandAssignmentValueSymbol(prop)?.declarations ?? [];
    else if (TS.isMethodDeclaration(prop)) values = [prop];
    else if (TS.isSpreadAssignment(prop)) {
      // `{ ...common, onData }`: the spread object's handlers are bound too.
      const e = skipOuter(prop.expression);
      if (mayFlow(e)) bindValue(cx, e, ctx, owner);
      continue;
    } else continue;
    const name = prop.name !== undefined && (TS.isIdentifier(prop.name) || TS.isStringLiteral(prop.name)) ? prop.name.text : undefined;
    if (name === undefined) continue;
    if (values.length === 0) {
      if (TS.isPropertyAssignment(prop)) {
        for (const t of targets) {
          const p = cx.checker.getPropertyOfType(t, name);
          if (p !== undefined) flowInto(cx, prop.initializer, cx.checker.getTypeOfSymbol(p));
        }
      }
      continue;
    }
    for (const t of targets) {
      for (const d of cx.checker.getPropertyOfType(t, name)?.declarations ?? []) {
        if (d !== prop) cx.addRefs(d, values);
      }
    }
    if (owner !== undefined) {
      for (const v of values) {
        if ((isFunctionWithBody(v) || TS.isPropertyAssignment(v)) && !cx.ownerHint.has(v)) cx.ownerHint.set(v, owner);
      }
    }
  }
}

/**
 * The declared type of parameter i of the only declaration of a non-generic
 * callee, without resolving the call (resolving checks every argument, the
 * most expensive thing the checker asks for).
 */
function declaredParamType(cx: Extraction, decls: readonly ts.Declaration[], i: number): ts.Type | null {
  if (decls.length !== 1) return null;
  let d: ts.Node = decls[0]!;
  if ((TS.isPropertyDeclaration(d) || TS.isVariableDeclaration(d)) && d.initializer !== undefined) {
    let init = skipOuter(d.initializer);
    if (TS.isCallExpression(init)) {
      // `readonly send = this.entry('send', 'reject', (data: Uint8Array) => ...)`: the wrapped function's parameters.
      const role = cx.runtime.role(cx.calleeDecls(skipOuter(init.expression)));
      const fn = role === 'entry' || role === 'query' ? init.arguments[init.arguments.length - 1] : undefined;
      if (fn === undefined) return null;
      init = skipOuter(fn);
    }
    if (!TS.isArrowFunction(init) && !TS.isFunctionExpression(init)) return null;
    d = init;
  }
  if (!TS.isFunctionLike(d) || d.typeParameters !== undefined) return null;
  if (TS.isClassLike(d.parent) && d.parent.typeParameters !== undefined) return null;
  if (TS.isInterfaceDeclaration(d.parent) && d.parent.typeParameters !== undefined) return null;
  const params = d.parameters;
  const last = params[params.length - 1];
  const p = i < params.length ? params[i]! : last !== undefined && last.dotDotDotToken !== undefined ? last : undefined;
  if (p === undefined) return null;
  if (p.dotDotDotToken !== undefined || p.type === undefined) return null;
  return cx.checker.getTypeFromTypeNode(p.type);
}

/**
 * The value's type has members declared in the analysed code (or is an
 * object literal of it): handing it over can relate code. A number, a byte
 * array or a package's object cannot, and the call is not resolved for it.
 */
function carriesCode(cx: Extraction, e: ts.Expression): boolean {
  let t = cx.checker.getTypeAtLocation(e);
  if (t.isTypeParameter()) t = cx.checker.getBaseConstraintOfType(t) ?? t;
  if (t.flags & (TS.TypeFlags.Any | TS.TypeFlags.Unknown)) return false;
  return objectTypes(cx, t).some((x) => worthFlowing(cx, x));
}

/**
 * The declared type of the parameter a literal is passed for, when the callee
 * has one non-generic declaration (`lower.bind(this, { onData })`): what the
 * contextual type would be, without resolving the call.
 */
function argumentType(cx: Extraction, e: ts.Expression): ts.Type | undefined {
  let child: ts.Node = e;
  let p = e.parent;
  while (isWrapper(p)) {
    child = p;
    p = p.parent;
  }
  if (!(TS.isCallExpression(p) || TS.isNewExpression(p)) || p.arguments === undefined) return undefined;
  const i = p.arguments.indexOf(child as ts.Expression);
  if (i < 0) return undefined;
  let decls: readonly ts.Declaration[] = cx.calleeDecls(skipOuter(p.expression));
  if (TS.isNewExpression(p)) {
    const cls = decls.find((d): d is ts.ClassLikeDeclaration => TS.isClassLike(d));
    decls = cls !== undefined ? cls.members.filter((m) => TS.isConstructorDeclaration(m)) : [];
  }
  if (decls.some((d) => cx.runtime.isLib(d))) return undefined;
  return declaredParamType(cx, decls, i) ?? undefined;
}

/** Class instances and object-literal variables passed where an interface is expected. */
export function bindArguments(cx: Extraction, call: ts.CallExpression | ts.NewExpression, decls: readonly ts.Declaration[]): void {
  const args = call.arguments;
  if (args === undefined || args.length === 0) return;
  let sig: ts.Signature | undefined | null = null;
  for (let i = 0; i < args.length; i++) {
    const a = skipOuter(args[i]!);
    if (!mayFlow(a) && !TS.isArrayLiteralExpression(a)) continue;
    let target: ts.Type | undefined | null = declaredParamType(cx, decls, i);
    if (target === null) {
      if (mayFlow(a) && !carriesCode(cx, a)) continue;
      if (sig === null) sig = cx.checker.getResolvedSignature(call);
      target = sig !== undefined ? paramType(cx, sig, i) : undefined;
    }
    if (target !== undefined) flowInto(cx, a, target, call);
  }
}

/** A value flowing where a type is expected (argument, initializer, assigned or returned value). */
export function flowInto(cx: Extraction, expr: ts.Expression, ctx: ts.Type | undefined, call?: ts.CallExpression | ts.NewExpression): void {
  const a = skipOuter(expr);
  if (TS.isArrayLiteralExpression(a)) {
    // `[new Echo(rt), counter]` given as `Sink[]`: each element is handed over as a Sink.
    const target = ctx ?? cx.checker.getContextualType(a);
    const arr = target !== undefined ? cx.checker.getNonNullableType(target) : undefined;
    const el = arr !== undefined && cx.checker.isArrayType(arr) ? cx.checker.getTypeArguments(arr as ts.TypeReference)[0] : undefined;
    if (el !== undefined) for (const x of a.elements) flowInto(cx, TS.isSpreadElement(x) ? x.expression : x, el, call);
    return;
  }
  if (!mayFlow(a)) return;
  const target = ctx ?? cx.checker.getContextualType(a);
  if (target === undefined || !objectTypes(cx, target).some((t) => worthFlowing(cx, t))) return;
  bindValue(cx, a, target, undefined, call);
}

function bindValue(cx: Extraction, e: ts.Expression, ctx: ts.Type, owner: ModuleRef | undefined, call?: ts.CallExpression | ts.NewExpression): void {
  let t = cx.checker.getTypeAtLocation(e);
  if (t.isTypeParameter()) t = cx.checker.getBaseConstraintOfType(t) ?? t;
  const sym = t.getSymbol();
  if (sym === undefined) return;
  const ownerOf = (): ModuleRef | undefined => owner ?? (call !== undefined ? ownerOfCall(cx, call, e) : undefined);
  if (sym.flags & TS.SymbolFlags.ObjectLiteral) {
    const lit = sym.valueDeclaration;
    if (lit !== undefined && TS.isObjectLiteralExpression(lit)) bindLiteral(cx, lit, ctx, ownerOf());
    return;
  }
  flow(cx, t, ctx, ownerOf, 0);
}

/**
 * Values of type `from` are used as `to`: calling a member of `to` can run the
 * same-named member of `from`; arguments given to `to`'s member reach
 * `from`'s, and its results come back.
 */
export function flow(cx: Extraction, from: ts.Type, to: ts.Type, owner: (() => ModuleRef | undefined) | undefined, depth: number): void {
  if (depth > 6) return;
  let ownerName: ModuleRef | undefined | null = null;
  for (const t of objectTypes(cx, to)) {
    if (!worthFlowing(cx, t)) continue;
    for (const f of objectTypes(cx, from)) {
      if (f === t) continue;
      let done = cx.flowed.get(f);
      if (done === undefined) cx.flowed.set(f, (done = new Set()));
      if (done.has(t)) continue;
      done.add(t);
      for (const p of cx.checker.getPropertiesOfType(t)) {
        const q = cx.checker.getPropertyOfType(f, p.name);
        const pDecls = p.declarations ?? [];
        const qDecls = q?.declarations ?? [];
        if (q === undefined || pDecls.length === 0 || qDecls.length === 0 || pDecls[0] === qDecls[0]) continue;
        for (const d of pDecls) cx.addRefs(d, qDecls);
        if (owner !== undefined) {
          if (ownerName === null) ownerName = owner();
          if (ownerName !== undefined) for (const m of qDecls) if (!cx.ownerHint.has(m)) cx.ownerHint.set(m, ownerName);
        }
        const ps = cx.checker.getNonNullableType(cx.checker.getTypeOfSymbol(p)).getCallSignatures()[0];
        const qs = cx.checker.getNonNullableType(cx.checker.getTypeOfSymbol(q)).getCallSignatures()[0];
        if (ps === undefined || qs === undefined) continue;
        const n = Math.max(ps.getParameters().length, qs.getParameters().length);
        for (let i = 0; i < n; i++) {
          const a = paramType(cx, ps, i);
          const b = paramType(cx, qs, i);
          if (a !== undefined && b !== undefined) flow(cx, a, b, undefined, depth + 1);
        }
        flow(cx, qs.getReturnType(), ps.getReturnType(), undefined, depth + 1);
      }
    }
  }
}

function ownerForArgument(cx: Extraction, e: ts.Expression): ModuleRef | undefined {
  let child: ts.Node = e;
  let p = e.parent;
  while (isWrapper(p)) {
    child = p;
    p = p.parent;
  }
  if ((TS.isCallExpression(p) || TS.isNewExpression(p)) && p.arguments?.some((a) => a === child)) return ownerOfCall(cx, p, child);
  return undefined;
}

/** The module named by another argument of the call (`listen(port, owner, handlers)`). */
function ownerOfCall(cx: Extraction, call: ts.CallExpression | ts.NewExpression, skip: ts.Node): ModuleRef | undefined {
  for (const a of call.arguments ?? []) {
    if (a === skip) continue;
    const name = ownerName(cx, a, 0);
    if (name !== undefined) return name;
  }
  return undefined;
}

function ownerName(cx: Extraction, expr: ts.Expression, depth: number): ModuleRef | undefined {
  const e = skipOuter(expr);
  if (TS.isLiteralExpression(e) || TS.isObjectLiteralExpression(e) || TS.isArrowFunction(e) || TS.isFunctionExpression(e)) return undefined;
  let t = cx.checker.getTypeAtLocation(e);
  if (t.isTypeParameter()) t = cx.checker.getBaseConstraintOfType(t) ?? t;
  const cls = t.getSymbol()?.declarations?.find((d): d is ts.ClassLikeDeclaration => TS.isClassLike(d));
  if (cls === undefined) return undefined;
  if (!cx.runtime.isModuleBase(cls)) return moduleInfo(cx, cls);
  return appName(cx, e, depth);
}

/** Name of a plain Module used as an owner: `rt.app('echo')`, `new Module(rt, 'echo')`, or a variable holding one. */
function appName(cx: Extraction, e: ts.Expression, depth: number): ModuleRef | undefined {
  if (depth > 4) return undefined;
  const app = (name: string | undefined): ModuleRef | undefined => (name !== undefined ? { id: `app:${name}`, name } : undefined);
  if (TS.isCallExpression(e) && cx.runtime.role(cx.calleeDecls(skipOuter(e.expression))) === 'app') return app(stringLiteral(e.arguments[0]));
  if (TS.isNewExpression(e)) {
    const cls = cx.calleeDecls(skipOuter(e.expression)).find((d): d is ts.ClassLikeDeclaration => TS.isClassLike(d));
    if (cls === undefined) return undefined;
    if (cx.runtime.isModuleBase(cls)) return app(stringLiteral(e.arguments?.[1]));
    return moduleInfo(cx, cls);
  }
  if (TS.isIdentifier(e) || TS.isPropertyAccessExpression(e)) {
    for (const d of cx.calleeDecls(e)) {
      if ((TS.isVariableDeclaration(d) || TS.isPropertyDeclaration(d)) && d.initializer !== undefined) {
        const n = appName(cx, skipOuter(d.initializer), depth + 1);
        if (n !== undefined) return n;
      }
    }
  }
  return undefined;
}
