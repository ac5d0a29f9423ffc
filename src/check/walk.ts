/**
 * Phase 2: one walk over the analysed files, recording with the type checker
 * every function that can run and the calls it makes (targets kept as
 * declarations until the walk is over: an assignment later in a file may
 * still add a closure to a field), the entry points and queries modules
 * declare, upcall sites (as the slot member's declaration in the slot set
 * type), functions handed to `afterUnwind`, locked regions, callbacks stored
 * in containers, and what flows where (flow.ts).
 */
import type * as ts from 'typescript';
import type { Extraction } from './context.js';
import { bindArguments, flowInto, mayHandOver, objectLiteral } from './flow.js';
import type { FnNode } from './graph.js';
import type { Policy } from './model.js';
import { afterAwait, enclosingClass, isFunctionWithBody, nameText, skipOuter, stringLiteral } from './syntax.js';
import { TS } from './ts.js';
import { acquireRegion } from './regions.js';
import { registryStore } from './registry.js';
import { literalStrings, upcallSite } from './slots.js';
import { containerMethod, functionRefs, storedFrom } from './values.js';

/** Library methods that call their callback before returning (same task, same activation). */
const SYNC_CALLBACK_METHODS = new Set([
  'forEach',
  'map',
  'filter',
  'find',
  'findIndex',
  'findLast',
  'findLastIndex',
  'some',
  'every',
  'reduce',
  'reduceRight',
  'flatMap',
  'sort',
  'toSorted',
  'from',
  'replace',
  'replaceAll',
]);

const POLICIES: readonly Policy[] = ['reject', 'defer', 'reentrant'];

/**
 * Names declared by the analysed code or the runtime: a method called by a
 * name none of them declares (`buf.subarray(1)`, `view.getUint16(0)`) is the
 * standard library's or a package's, and is not resolved at all (resolving
 * makes the compiler check the receiver, most of the checker's time).
 */
function collectNames(cx: Extraction): void {
  const names = cx.declaredNames;
  const visit = (n: ts.Node): void => {
    const name = (n as { name?: ts.Node }).name;
    if (name !== undefined && (TS.isIdentifier(name) || TS.isPrivateIdentifier(name) || TS.isStringLiteral(name))) names.add(name.text);
    TS.forEachChild(n, visit);
  };
  for (const sf of cx.program.getSourceFiles()) {
    if (cx.analysed.has(sf) || cx.runtime.isRuntimeFile(sf.fileName)) visit(sf);
  }
}

/** Library methods whose call the checker must see: containers, callbacks run in place, call/apply. */
const LIB_METHODS_WATCHED = new Set([...SYNC_CALLBACK_METHODS, 'get', 'at', 'pop', 'shift', 'values', 'entries', 'slice', 'concat', 'flat', 'of', 'set', 'push', 'unshift', 'add', 'splice', 'call', 'apply', 'bind']);

export function walkFiles(cx: Extraction): void {
  collectNames(cx);
  for (const sf of cx.analysed) {
    for (const st of sf.statements) {
      try {
        visit(cx, st, undefined);
      } catch (e) {
        // One construct the walk cannot handle must not hide the rest of the findings.
        cx.notes.push(`${cx.where(st)}: not analysed (${e instanceof Error ? e.message : String(e)})`);
      }
    }
  }
}

function visit(cx: Extraction, node: ts.Node, fn: FnNode | undefined): void {
  if (isFunctionWithBody(node)) {
    const n = cx.nodeFor(node);
    TS.forEachChild(node, (c) => visit(cx, c, n));
    return;
  }
  if (TS.isClassLike(node)) {
    classRelations(cx, node);
    TS.forEachChild(node, (c) => visit(cx, c, undefined));
    return;
  }
  if (TS.isPropertyDeclaration(node) && node.initializer !== undefined) {
    propertyInitializer(cx, node);
  } else if (TS.isCallExpression(node) || TS.isNewExpression(node)) {
    call(cx, node, fn);
  } else if (TS.isObjectLiteralExpression(node)) {
    objectLiteral(cx, node);
  } else if (TS.isBinaryExpression(node) && node.operatorToken.kind === TS.SyntaxKind.EqualsToken) {
    assignment(cx, node, fn);
  } else if (TS.isVariableDeclaration(node) && node.initializer !== undefined) {
    variable(cx, node, fn);
  } else if (TS.isReturnStatement(node) && node.expression !== undefined && fn !== undefined) {
    // Handed over as the declared return type; an unannotated function's is not asked for
    // (for a callback it would mean resolving the call it is passed to).
    const type = (fn.decl as ts.SignatureDeclaration).type;
    if (type !== undefined && mayHandOver(node.expression)) flowInto(cx, node.expression, cx.checker.getTypeFromTypeNode(type));
  }
  TS.forEachChild(node, (c) => visit(cx, c, fn));
}

/** `extends`: overridden methods get the overriding ones; `implements` is kept for guesses.ts. */
function classRelations(cx: Extraction, cls: ts.ClassLikeDeclaration): void {
  if (cls.heritageClauses === undefined) return;
  const sym = cls.name !== undefined ? cx.checker.getSymbolAtLocation(cls.name) : undefined;
  if (sym === undefined) return;
  const inst = cx.checker.getDeclaredTypeOfSymbol(sym);
  for (const h of cls.heritageClauses) {
    for (const t of h.types) {
      const other = cx.checker.getTypeAtLocation(t);
      if (h.token === TS.SyntaxKind.ImplementsKeyword) {
        cx.implementsClauses.push({ cls, inst, iface: other, at: t });
      } else {
        for (const m of cls.members) {
          if (m.name === undefined || TS.isConstructorDeclaration(m)) continue;
          const p = cx.checker.getPropertyOfType(other, nameText(m.name));
          for (const d of p?.declarations ?? []) cx.addRefs(d, [m]);
        }
      }
    }
  }
}

function entryRole(cx: Extraction, e: ts.Expression): 'entry' | 'query' | undefined {
  if (!TS.isCallExpression(e)) return undefined;
  const role = cx.runtime.role(cx.calleeDecls(skipOuter(e.expression)));
  return role === 'entry' || role === 'query' ? role : undefined;
}

function propertyInitializer(cx: Extraction, prop: ts.PropertyDeclaration): void {
  const init = skipOuter(prop.initializer!);
  const role = entryRole(cx, init);
  if (role !== undefined) {
    registerEntry(cx, [prop], nameText(prop.name), init as ts.CallExpression, role);
    return;
  }
  if (prop.type !== undefined && mayHandOver(init)) flowInto(cx, init, cx.checker.getTypeFromTypeNode(prop.type));
}

/** Declarations an assignment target names: a variable or field, or the container of `x[i]`. */
function assignTargets(cx: Extraction, left: ts.Expression): ts.Node[] {
  if (TS.isElementAccessExpression(left) && !TS.isStringLiteralLike(left.argumentExpression)) return functionRefs(cx, left.expression);
  if (TS.isIdentifier(left) || TS.isPropertyAccessExpression(left) || TS.isElementAccessExpression(left)) return cx.calleeDecls(left);
  return [];
}

function assignment(cx: Extraction, bin: ts.BinaryExpression, fn: FnNode | undefined): void {
  const right = skipOuter(bin.right);
  const left = skipOuter(bin.left);
  const targets = assignTargets(cx, left);
  if (targets.length === 0) return;
  const role = entryRole(cx, right);
  if (role !== undefined) {
    const name = TS.isPropertyAccessExpression(left) ? left.name.text : TS.isIdentifier(left) ? left.text : 'entry';
    registerEntry(cx, targets, name, right as ts.CallExpression, role);
    return;
  }
  const values = functionRefs(cx, right);
  for (const t of targets) cx.addRefs(t, values);
  if (values.length === 0 && mayHandOver(right)) flowInto(cx, right, cx.checker.getTypeAtLocation(left));
  if (fn !== undefined && !TS.isIdentifier(left)) registryStore(cx, fn, left, right, bin);
}

/** The strictest of the policies a type allows: 'reject', then 'defer', then 'reentrant'. */
function strictest(list: readonly string[]): Policy | undefined {
  for (const p of POLICIES) if (list.includes(p)) return p;
  return undefined;
}

function registerEntry(cx: Extraction, holders: readonly ts.Node[], property: string, call: ts.CallExpression, role: 'entry' | 'query'): void {
  const args = call.arguments;
  const cls = enclosingClass(call);
  const info = cls !== undefined ? cx.moduleOfClass.get(cls) ?? undefined : undefined;
  const entryName = stringLiteral(args[0]) ?? property;
  let policy: Policy = 'query';
  let declared: string | undefined;
  if (role === 'entry') {
    const texts = literalStrings(cx, args[1]);
    const p = texts !== undefined ? strictest(texts) : undefined;
    if (p === undefined) {
      policy = 'reject';
      cx.notes.push(`${cx.where(call)}: entry '${entryName}' has no literal policy; treated as 'reject'`);
    } else {
      policy = p;
      if (texts!.length > 1) declared = texts!.map((t) => `'${t}'`).join(' | ');
    }
  }
  const fnArg = args[role === 'entry' ? 2 : 1];
  if (fnArg === undefined) return;
  const fnExpr = skipOuter(fnArg);
  let node: FnNode | undefined;
  if (TS.isArrowFunction(fnExpr) || TS.isFunctionExpression(fnExpr)) {
    node = cx.nodeFor(fnExpr);
  } else {
    // An entry wrapping a reference: a node of its own that calls what it wraps.
    node = cx.nodeFor(holders[0]!);
    node?.calls.push({ refs: functionRefs(cx, fnExpr), exact: false, line: cx.lineOf(fnExpr), pos: fnExpr.getStart(), async: false, targets: [] });
  }
  if (node === undefined) return;
  node.entry = declared !== undefined ? { name: entryName, policy, declared } : { name: entryName, policy };
  node.name = cls !== undefined ? cx.memberName(cls, property) : property;
  for (const h of holders) cx.alias.set(h, node);
  info?.entries.push({ ...node.entry });
}

function variable(cx: Extraction, decl: ts.VariableDeclaration, fn: FnNode | undefined): void {
  const init = skipOuter(decl.initializer!);
  if (TS.isAwaitExpression(init) && fn !== undefined) {
    const inner = skipOuter(init.expression);
    if (TS.isCallExpression(inner) && cx.runtime.role(cx.calleeDecls(skipOuter(inner.expression))) === 'acquire') {
      acquireRegion(cx, decl, inner, fn);
    }
    return;
  }
  if (decl.type !== undefined && mayHandOver(init)) flowInto(cx, init, cx.checker.getTypeFromTypeNode(decl.type));
}

function call(cx: Extraction, node: ts.CallExpression | ts.NewExpression, fn: FnNode | undefined): void {
  const callee = skipOuter(node.expression);
  if (TS.isPropertyAccessExpression(callee) && !cx.declaredNames.has(callee.name.text) && !LIB_METHODS_WATCHED.has(callee.name.text)) return;
  const args = node.arguments ?? [];
  let decls: ts.Declaration[] = cx.calleeDecls(callee);
  if (TS.isNewExpression(node)) {
    const cls = decls.find((d): d is ts.ClassLikeDeclaration => TS.isClassLike(d));
    if (cls !== undefined) decls = cls.members.filter((m) => TS.isConstructorDeclaration(m) && m.body !== undefined);
  }
  const role = cx.runtime.role(decls);
  if (role === 'upcall') {
    if (fn !== undefined && TS.isCallExpression(node)) upcallSite(cx, node, fn);
    return;
  }
  if (role === 'entry' || role === 'query' || role === 'acquire' || role === 'app') return;
  if (role === 'locked') {
    if (fn !== undefined && args[0] !== undefined) {
      const roots = functionRefs(cx, args[0]);
      cx.regions.push({ holder: fn, line: cx.calleeLine(node), roots, ranges: [], rootNodes: [] });
      addSite(cx, fn, node, roots, false);
    }
    return;
  }
  if (role === 'afterUnwind') {
    // afterUnwind(client, key, fn): fn runs when this activation unwinds.
    if (fn !== undefined && args[2] !== undefined) {
      const refs = functionRefs(cx, args[2]);
      if (refs.length > 0) {
        fn.calls.push({
          refs,
          exact: false,
          line: cx.calleeLine(node),
          pos: node.getStart(),
          async: afterAwait(node, fn.decl),
          unwind: { key: stringLiteral(args[1]) ?? '?', at: cx.where(node) },
          targets: [],
        });
      }
    }
    return;
  }
  if (role === 'runtime') return;
  const libDecls = decls.filter((d) => cx.runtime.isLib(d));
  const libCall = libDecls.length > 0 && libDecls.length === decls.length;
  if (libCall) {
    containerCall(cx, node, callee, decls, fn);
  } else if (decls.length > 0) {
    // A library function keeps no handler of ours (containers aside): nothing flows through it.
    bindArguments(cx, node, decls);
  }
  if (fn === undefined) return;
  if (libCall) {
    const name = TS.isPropertyAccessExpression(callee) ? callee.name.text : TS.isIdentifier(callee) ? callee.text : '';
    if (TS.isPropertyAccessExpression(callee) && (name === 'call' || name === 'apply')) {
      addSite(cx, fn, node, functionRefs(cx, callee.expression), false);
    } else if (SYNC_CALLBACK_METHODS.has(name) || (TS.isNewExpression(node) && name === 'Promise')) {
      addSite(cx, fn, node, args.flatMap((a) => functionRefs(cx, a)), false);
    }
    return;
  }
  if (decls.length === 0) {
    // `map.get(k)?.(d)`, `handlers[i](d)`, `(a ?? b)(d)`: whatever the callee expression can be.
    addSite(cx, fn, node, functionRefs(cx, callee), false);
    return;
  }
  for (const d of decls) if ((TS.isMethodSignature(d) || TS.isPropertySignature(d) || TS.isPropertyDeclaration(d)) && cx.analysed.has(d.getSourceFile())) cx.calledMembers.add(d);
  const exact = TS.isPropertyAccessExpression(callee) && callee.expression.kind === TS.SyntaxKind.SuperKeyword;
  addSite(cx, fn, node, decls.filter((d) => !cx.runtime.isLib(d)), exact);
  passFunctions(cx, node, decls);
}

/** Storing callbacks into a Map, Set or array, and iterating one with a callback. */
function containerCall(cx: Extraction, node: ts.CallExpression | ts.NewExpression, callee: ts.Expression, decls: readonly ts.Declaration[], fn: FnNode | undefined): void {
  if (!TS.isCallExpression(node) || !TS.isPropertyAccessExpression(callee)) return;
  const method = containerMethod(cx, callee, decls);
  if (method === undefined) return;
  const args = node.arguments;
  const from = storedFrom(method);
  if (from !== undefined) {
    const holders = functionRefs(cx, callee.expression);
    for (let i = from; i < args.length; i++) {
      const a = args[i]!;
      const values = functionRefs(cx, a);
      for (const h of holders) cx.addRefs(h, values);
      if (fn !== undefined) registryStore(cx, fn, callee.expression, a, node);
    }
    return;
  }
  if (method === 'forEach' || method === 'map' || method === 'some' || method === 'every' || method === 'find' || method === 'filter' || method === 'flatMap' || method === 'findLast') {
    // The callback's first parameter is an element of the receiver.
    const cb = args[0] !== undefined ? skipOuter(args[0]) : undefined;
    const p0 = cb !== undefined && (TS.isArrowFunction(cb) || TS.isFunctionExpression(cb)) ? cb.parameters[0] : undefined;
    if (p0 !== undefined) cx.addRefs(p0, functionRefs(cx, callee.expression));
  }
}

function addSite(cx: Extraction, fn: FnNode, node: ts.CallExpression | ts.NewExpression, refs: readonly ts.Node[], exact: boolean): void {
  if (refs.length === 0) return;
  fn.calls.push({ refs, exact, line: cx.calleeLine(node), pos: node.getStart(), async: afterAwait(node, fn.decl), targets: [] });
}

/** A closure passed for a parameter can run wherever the callee calls that parameter. */
function passFunctions(cx: Extraction, node: ts.CallExpression | ts.NewExpression, decls: readonly ts.Declaration[]): void {
  const args = node.arguments ?? [];
  let sigDecl: ts.SignatureDeclaration | undefined;
  for (let i = 0; i < args.length; i++) {
    const values = functionRefs(cx, args[i]!);
    if (values.length === 0) continue;
    // One declaration: its parameters, without resolving the call; overloads need resolving.
    sigDecl ??= decls.length === 1 ? functionOf(cx, decls[0]!) : undefined;
    sigDecl ??= cx.checker.getResolvedSignature(node)?.getDeclaration();
    if (sigDecl === undefined || !('parameters' in sigDecl)) return;
    const params = sigDecl.parameters;
    const p = params[i] ?? (params.length > 0 && params[params.length - 1]!.dotDotDotToken !== undefined ? params[params.length - 1] : undefined);
    if (p !== undefined) cx.addRefs(p, values);
  }
}

/** The function a callee's declaration stands for: itself, or the function it is initialised with (an entry's). */
function functionOf(cx: Extraction, d: ts.Node): ts.SignatureDeclaration | undefined {
  if (TS.isFunctionLike(d)) return d;
  if ((TS.isPropertyDeclaration(d) || TS.isVariableDeclaration(d)) && d.initializer !== undefined) {
    let init = skipOuter(d.initializer);
    if (TS.isCallExpression(init) && entryRole(cx, init) !== undefined) init = skipOuter(init.arguments[init.arguments.length - 1] ?? init);
    if (TS.isArrowFunction(init) || TS.isFunctionExpression(init)) return init;
  }
  return undefined;
}
