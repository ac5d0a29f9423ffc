/**
 * Phase 1: the module classes (classes extending core's Module, directly or
 * through other module classes) and the name each gives the runtime.
 */
import type * as ts from 'typescript';
import type { Extraction } from './context.js';
import type { ModuleInfo } from './graph.js';
import { isFunctionWithBody, nameText, skipOuter, stringLiteral } from './syntax.js';
import { TS } from './ts.js';

export function findModules(cx: Extraction): void {
  const visit = (node: ts.Node): void => {
    if (TS.isClassLike(node)) moduleInfo(cx, node);
    TS.forEachChild(node, visit);
  };
  for (const sf of cx.analysed) visit(sf);
  for (const [, info] of cx.moduleOfClass) {
    if (info !== null && cx.analysed.has(info.decl.getSourceFile())) cx.modules.push(info);
  }
  cx.modules.sort((a, b) => (a.file === b.file ? a.line - b.line : a.file < b.file ? -1 : 1));
}

function baseClass(cx: Extraction, cls: ts.ClassLikeDeclaration): ts.ClassLikeDeclaration | undefined {
  const ext = cls.heritageClauses?.find((h) => h.token === TS.SyntaxKind.ExtendsKeyword)?.types[0];
  if (ext === undefined) return undefined;
  // The symbol of the name in `extends X`: no type needs computing for it.
  let sym = cx.checker.getSymbolAtLocation(ext.expression);
  if (sym !== undefined && sym.flags & TS.SymbolFlags.Alias) sym = cx.checker.getAliasedSymbol(sym);
  let d = sym?.declarations?.find((x): x is ts.ClassLikeDeclaration => TS.isClassLike(x));
  if (d === undefined) {
    const t = cx.checker.getTypeAtLocation(ext);
    d = (t.getSymbol() ?? t.aliasSymbol)?.declarations?.find((x): x is ts.ClassLikeDeclaration => TS.isClassLike(x));
  }
  return d;
}

/** The module a class is, or undefined (memoised; bases first). */
export function moduleInfo(cx: Extraction, cls: ts.ClassLikeDeclaration): ModuleInfo | undefined {
  const known = cx.moduleOfClass.get(cls);
  if (known !== undefined) return known ?? undefined;
  cx.moduleOfClass.set(cls, null);
  if (cx.runtime.isModuleBase(cls)) return undefined;
  const base = baseClass(cx, cls);
  if (base === undefined) return undefined;
  let inherited: ModuleInfo | undefined;
  if (!cx.runtime.isModuleBase(base)) {
    inherited = moduleInfo(cx, base);
    if (inherited === undefined) return undefined;
  }
  const sf = cls.getSourceFile();
  const className = cls.name?.text ?? '<class>';
  const info: ModuleInfo = {
    // A subclass's code and its base's run as one module (one instance): one id for the hierarchy.
    id: inherited?.id ?? `class:${cx.rel(sf.fileName)}#${className}@${cls.pos}`,
    name: moduleName(cx, cls, base) ?? inherited?.name ?? className,
    className,
    decl: cls,
    file: cx.rel(sf.fileName),
    line: cx.lineOf(cls.name ?? cls),
    entries: [],
  };
  cx.moduleOfClass.set(cls, info);
  return info;
}

/** The name literal passed up to Module's constructor, when the code shows it. */
function moduleName(cx: Extraction, cls: ts.ClassLikeDeclaration, base: ts.ClassLikeDeclaration): string | undefined {
  const ctor = cls.members.find((m): m is ts.ConstructorDeclaration => TS.isConstructorDeclaration(m) && m.body !== undefined);
  if (ctor?.body === undefined) return undefined;
  let superCall: ts.CallExpression | undefined;
  const find = (n: ts.Node): void => {
    if (superCall !== undefined || isFunctionWithBody(n) || TS.isClassLike(n)) return;
    if (TS.isCallExpression(n) && n.expression.kind === TS.SyntaxKind.SuperKeyword) superCall = n;
    else TS.forEachChild(n, find);
  };
  TS.forEachChild(ctor.body, find);
  if (superCall === undefined) return undefined;
  // Core's Module takes (rt, name, ...); a module base class says where its `name` goes.
  let idx = -1;
  if (cx.runtime.isModuleBase(base)) idx = 1;
  else {
    const baseCtor = base.members.find((m): m is ts.ConstructorDeclaration => TS.isConstructorDeclaration(m));
    if (baseCtor !== undefined) idx = baseCtor.parameters.findIndex((p) => nameText(p.name) === 'name');
  }
  const arg = idx >= 0 ? superCall.arguments[idx] : undefined;
  if (arg === undefined) return undefined;
  const lit = stringLiteral(arg);
  if (lit !== undefined) return lit;
  const a = skipOuter(arg);
  if (TS.isIdentifier(a)) {
    // `constructor(rt, name = 'tcp') { super(rt, name) }`
    const p = ctor.parameters.find((q) => TS.isIdentifier(q.name) && q.name.text === a.text);
    return stringLiteral(p?.initializer);
  }
  return undefined;
}
