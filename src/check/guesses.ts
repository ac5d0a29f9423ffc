/**
 * Hand-overs the code suggests but does not show. A class that declares
 * `implements I`, or a module class satisfying an interface another module's
 * constructor takes, may stand behind calls through I; when the analysed code
 * never hands a value of that class over as I, following the guess would
 * invent cycles. Each such guess that matters (some analysed code calls a
 * member of I) is reported as a finding of its own, and not followed.
 */
import type * as ts from 'typescript';
import type { Extraction } from './context.js';
import type { ModuleInfo } from './graph.js';
import { objectTypes } from './flow.js';
import { TS } from './ts.js';

/** A value of `from` was handed over as `to`, or as a type with `to`'s members (`Partial<To>`). */
function given(cx: Extraction, from: ts.Type, to: ts.Type): boolean {
  const members = new Set<ts.Node>();
  for (const p of cx.checker.getPropertiesOfType(to)) for (const d of p.declarations ?? []) members.add(d);
  for (const f of objectTypes(cx, from)) {
    for (const t of cx.flowed.get(f) ?? []) {
      if (t === to) return true;
      if (cx.checker.getPropertiesOfType(t).some((p) => (p.declarations ?? []).some((d) => members.has(d)))) return true;
    }
  }
  return false;
}

/** Some member of `t` declared in the analysed code is called somewhere. */
function called(cx: Extraction, t: ts.Type): boolean {
  return cx.checker.getPropertiesOfType(t).some((p) => (p.declarations ?? []).some((d) => cx.calledMembers.has(d)));
}

/** An interface of the analysed code with a method to call: what a layer asks of the one below. */
function serviceInterface(cx: Extraction, t: ts.Type): boolean {
  const sym = t.getSymbol();
  if (sym === undefined || !(sym.flags & TS.SymbolFlags.Interface)) return false;
  if (!(sym.declarations ?? []).some((d) => cx.analysed.has(d.getSourceFile()))) return false;
  return cx.checker.getPropertiesOfType(t).some((p) => !(p.flags & TS.SymbolFlags.Optional) && cx.checker.getTypeOfSymbol(p).getCallSignatures().length > 0);
}

function declOf(t: ts.Type): ts.Declaration | undefined {
  return (t.aliasSymbol ?? t.getSymbol())?.declarations?.[0];
}

export function guessedHandOvers(cx: Extraction): void {
  const seen = new Set<string>();
  const report = (iface: ts.Type, cls: ts.ClassLikeDeclaration, why: string): void => {
    const d = declOf(iface);
    if (d === undefined) return;
    const name = cx.checker.typeToString(iface);
    const className = cls.name?.text ?? '<class>';
    const key = `${name}@${cx.where(d)}<${className}@${cx.where(cls)}`;
    if (seen.has(key)) return;
    seen.add(key);
    const info = cx.moduleOfClass.get(cls) ?? undefined;
    cx.guessedHandOvers.push({
      interface: name,
      file: cx.rel(d.getSourceFile().fileName),
      line: cx.lineOf(d),
      class: className,
      classFile: cx.rel(cls.getSourceFile().fileName),
      classLine: cx.lineOf(cls),
      ...(info !== undefined ? { module: info.name } : {}),
      why,
    });
  };

  for (const c of cx.implementsClauses) {
    for (const t of objectTypes(cx, c.iface)) {
      if (!given(cx, c.inst, t) && called(cx, t)) report(t, c.cls, `declares 'implements ${cx.checker.typeToString(t)}', but no value of it is handed over as one in the analysed code`);
    }
  }

  // A layer taking the layer below as an interface of its own (Telnet's StreamTransport),
  // assembled nowhere in the analysed code: the module classes that would fit.
  const givenTo = new Set<ts.Type>();
  for (const tos of cx.flowed.values()) for (const t of tos) givenTo.add(t);
  const wanted: { iface: ts.Type; taker: ModuleInfo }[] = [];
  for (const m of cx.modules) {
    const ctor = m.decl.members.find((x): x is ts.ConstructorDeclaration => TS.isConstructorDeclaration(x) && x.body !== undefined);
    for (const p of ctor?.parameters ?? []) {
      if (p.type === undefined) continue;
      for (const t of objectTypes(cx, cx.checker.getTypeFromTypeNode(p.type))) {
        if (givenTo.has(t) || wanted.some((w) => w.iface === t && w.taker === m) || !serviceInterface(cx, t) || !called(cx, t)) continue;
        wanted.push({ iface: t, taker: m });
      }
    }
  }
  for (const { iface, taker } of wanted) {
    for (const c of cx.modules) {
      if (c === taker) continue;
      const sym = c.decl.name !== undefined ? cx.checker.getSymbolAtLocation(c.decl.name) : undefined;
      if (sym === undefined) continue;
      const inst = cx.checker.getDeclaredTypeOfSymbol(sym);
      if (cx.checker.isTypeAssignableTo(inst, iface)) {
        report(iface, c.decl, `satisfies ${cx.checker.typeToString(iface)}, which ${taker.name} (${taker.className}) takes in its constructor; nothing analysed hands one over`);
      }
    }
  }
  cx.guessedHandOvers.sort((a, b) => (a.file !== b.file ? (a.file < b.file ? -1 : 1) : a.line - b.line || (a.class < b.class ? -1 : a.class > b.class ? 1 : 0)));
}
