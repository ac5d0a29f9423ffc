/**
 * What the phases of the extraction share: the program and its type checker,
 * the runtime's API, the files analysed, and the tables each phase fills for
 * the next (modules, functions, what can stand behind a declaration).
 * Positions and the names of functions live here too: every phase reports them.
 */
import path from 'node:path';
import type * as ts from 'typescript';
import type { FnNode, LockRegion, ModuleInfo, ModuleRef } from './graph.js';
import type { CallbackRegistry, GuessedHandOver } from './model.js';
import type { RuntimeApi } from './runtime-api.js';
import { enclosingClass, hasMember, isFunctionWithBody, isWrapper, nameText, skipOuter } from './syntax.js';
import { TS } from './ts.js';

export class Extraction {
  readonly checker: ts.TypeChecker;
  readonly analysed = new Set<ts.SourceFile>();
  readonly moduleOfClass = new Map<ts.ClassLikeDeclaration, ModuleInfo | null>();
  readonly modules: ModuleInfo[] = [];
  readonly nodes: FnNode[] = [];
  readonly nodeOf = new Map<ts.Node, FnNode>();
  /** Declarations (entry properties) that stand for a node other than themselves. */
  readonly alias = new Map<ts.Node, FnNode>();
  /** Declaration -> what else can run when it is called (handlers, closures, overrides, implementations, stored callbacks). */
  readonly refs = new Map<ts.Node, Set<ts.Node>>();
  /** Types handed over as other types (from -> to), as the code shows it. */
  readonly flowed = new Map<ts.Type, Set<ts.Type>>();
  readonly worth = new Map<ts.Type, boolean>();
  /** Handler function -> the module named as owner where it was bound. */
  readonly ownerHint = new Map<ts.Node, ModuleRef>();
  readonly regions: LockRegion[] = [];
  readonly notes: string[] = [];
  readonly registries: CallbackRegistry[] = [];
  readonly guessedHandOvers: GuessedHandOver[] = [];
  /** `class C implements I` clauses, checked after the walk against what was handed over. */
  readonly implementsClauses: { cls: ts.ClassLikeDeclaration; inst: ts.Type; iface: ts.Type; at: ts.Node }[] = [];
  /** Declarations of interface members some analysed code calls. */
  readonly calledMembers = new Set<ts.Node>();
  /** Every name the analysed code and the runtime declare (members, functions, variables, parameters). */
  readonly declaredNames = new Set<string>();

  constructor(
    readonly program: ts.Program,
    readonly runtime: RuntimeApi,
    readonly cwd: string,
  ) {
    this.checker = program.getTypeChecker();
  }

  // ---- declarations ---------------------------------------------------------------------

  /** Declarations a callee (or any name) refers to, aliases followed. */
  calleeDecls(callee: ts.Expression): ts.Declaration[] {
    let sym: ts.Symbol | undefined;
    if (TS.isPropertyAccessExpression(callee)) sym = this.checker.getSymbolAtLocation(callee.name);
    else if (TS.isElementAccessExpression(callee)) {
      // obj['name'] names a member; arr[i] takes an element out of a container (see functionRefs).
      if (!TS.isStringLiteralLike(callee.argumentExpression)) return [];
      sym = this.checker.getSymbolAtLocation(callee.argumentExpression);
    } else sym = this.checker.getSymbolAtLocation(callee);
    if (sym !== undefined && sym.flags & TS.SymbolFlags.Alias) sym = this.checker.getAliasedSymbol(sym);
    return sym?.declarations ?? [];
  }

  addRefs(decl: ts.Node, values: readonly ts.Node[]): void {
    if (values.length === 0) return;
    let s = this.refs.get(decl);
    if (s === undefined) this.refs.set(decl, (s = new Set()));
    for (const v of values) if (v !== decl) s.add(v);
  }

  // ---- modules ------------------------------------------------------------------------------

  /** The module class `n` is written in, if any. */
  lexicalModule(n: ts.Node): ModuleInfo | undefined {
    for (let p = n.parent; p !== undefined; p = p.parent) {
      if (TS.isClassLike(p)) {
        const info = this.moduleOfClass.get(p);
        if (info !== undefined && info !== null) return info;
      }
    }
    return undefined;
  }

  isModuleClass(cls: ts.ClassLikeDeclaration): boolean {
    const info = this.moduleOfClass.get(cls);
    return info !== undefined && info !== null;
  }

  // ---- function nodes ----------------------------------------------------------------------

  nodeFor(decl: ts.Node): FnNode | undefined {
    const known = this.nodeOf.get(decl);
    if (known !== undefined) return known;
    const sf = decl.getSourceFile();
    if (!this.analysed.has(sf)) return undefined;
    const cls = TS.isClassLike(decl.parent) ? decl.parent : enclosingClass(decl);
    const n: FnNode = {
      id: this.nodes.length,
      decl,
      name: this.nameFor(decl),
      file: this.rel(sf.fileName),
      line: this.lineOf(decl),
      lexical: this.lexicalModule(decl),
      className: cls?.name?.text,
      entry: undefined,
      calls: [],
      upcalls: [],
      module: '',
      moduleId: '',
      anchored: false,
    };
    this.nodes.push(n);
    this.nodeOf.set(decl, n);
    return n;
  }

  memberName(cls: ts.ClassLikeDeclaration, text: string): string {
    return this.isModuleClass(cls) ? text : `${cls.name?.text ?? '<class>'}.${text}`;
  }

  /** Prefix a local name with the function it lives in. */
  private qualify(at: ts.Node, text: string): string {
    for (let p = at.parent; p !== undefined; p = p.parent) {
      if (isFunctionWithBody(p)) return `${this.nodeFor(p)?.name ?? this.nameFor(p)}.${text}`;
      if (TS.isPropertyDeclaration(p) && TS.isClassLike(p.parent)) return `${this.memberName(p.parent, nameText(p.name))}.${text}`;
    }
    return text;
  }

  nameFor(decl: ts.Node): string {
    const parent = decl.parent;
    if (TS.isClassLike(parent)) {
      if (TS.isConstructorDeclaration(decl)) return this.memberName(parent, 'constructor');
      if (TS.isMethodDeclaration(decl) || TS.isGetAccessorDeclaration(decl) || TS.isSetAccessorDeclaration(decl) || TS.isPropertyDeclaration(decl)) {
        return this.memberName(parent, nameText(decl.name));
      }
    }
    if (TS.isFunctionDeclaration(decl)) return decl.name?.text ?? 'default';
    if ((TS.isMethodDeclaration(decl) || TS.isGetAccessorDeclaration(decl) || TS.isSetAccessorDeclaration(decl)) && TS.isObjectLiteralExpression(parent)) {
      return nameText(decl.name);
    }
    if (TS.isArrowFunction(decl) || TS.isFunctionExpression(decl)) {
      let child: ts.Node = decl;
      let p: ts.Node = parent;
      while (isWrapper(p)) {
        child = p;
        p = p.parent;
      }
      if (TS.isPropertyAssignment(p)) {
        // A handler is known by its slot; qualified when the class also has a member of that name.
        const key = nameText(p.name);
        const cls = enclosingClass(p);
        return cls !== undefined && hasMember(cls, key) ? this.qualify(p, key) : key;
      }
      if (TS.isPropertyDeclaration(p) && TS.isClassLike(p.parent)) return this.memberName(p.parent, nameText(p.name));
      if (TS.isVariableDeclaration(p) && TS.isIdentifier(p.name)) return this.qualify(p, p.name.text);
      if (TS.isBinaryExpression(p) && p.right === child) {
        const left = skipOuter(p.left);
        if (TS.isPropertyAccessExpression(left)) {
          const cls = enclosingClass(p);
          if (left.expression.kind === TS.SyntaxKind.ThisKeyword && cls !== undefined) return this.memberName(cls, left.name.text);
          return this.qualify(p, left.name.text);
        }
        if (TS.isIdentifier(left)) return this.qualify(p, left.text);
      }
      if ((TS.isCallExpression(p) || TS.isNewExpression(p)) && p.arguments?.some((a) => a === child)) {
        const callee = skipOuter(p.expression);
        const cn = TS.isPropertyAccessExpression(callee) ? callee.name.text : TS.isIdentifier(callee) ? callee.text : 'call';
        return this.qualify(p, `${cn}(cb)`);
      }
      if (TS.isFunctionExpression(decl) && decl.name !== undefined) return this.qualify(decl, decl.name.text);
      return this.qualify(decl, '<anonymous>');
    }
    if (TS.isPropertyDeclaration(decl)) return nameText(decl.name);
    return '<function>';
  }

  // ---- positions --------------------------------------------------------------------------

  /** The module of code bound or called by nobody we know: named after its file. */
  pseudoModule(file: string): ModuleRef {
    const name = file.slice(0, file.length - path.extname(file).length);
    return { id: `file:${file}`, name };
  }

  rel(fileName: string): string {
    return path.relative(this.cwd, fileName).split(path.sep).join('/');
  }

  lineOf(n: ts.Node): number {
    const sf = n.getSourceFile();
    const at = (n as { name?: ts.Node }).name ?? n;
    return sf.getLineAndCharacterOfPosition(at.getStart(sf)).line + 1;
  }

  /** Line of the called name (`.send` in a chain broken over lines). */
  calleeLine(call: ts.CallExpression | ts.NewExpression): number {
    const sf = call.getSourceFile();
    const c = skipOuter(call.expression);
    const at = TS.isPropertyAccessExpression(c) ? c.name : call;
    return sf.getLineAndCharacterOfPosition(at.getStart(sf)).line + 1;
  }

  where(n: ts.Node): string {
    const sf = n.getSourceFile();
    return `${this.rel(sf.fileName)}:${sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1}`;
  }
}
