/**
 * From a TypeScript Program to the call graph that matters for layering.
 *
 * One walk over the analysed files records, with the type checker:
 *  - modules (classes extending core's Module) and their entry points
 *    (`this.entry(name, policy, fn)`);
 *  - every function that can run, and the calls it makes, targets kept as
 *    declarations until the walk is over (an assignment later in the file may
 *    still add a closure to a field);
 *  - upcall sites (`this.upcall(binding, slot)`), as the declaration of the
 *    slot member in the slot set type H of `Binding<H>`;
 *  - what can stand behind a declaration: the handlers bound to a slot (object
 *    literals and class instances whose contextual type has it, classes that
 *    implement it), closures assigned to a field or variable or passed for a
 *    parameter, overriding methods;
 *  - after the walk, the layers nobody assembles in the analysed code: an
 *    interface a module's constructor takes, given no value anywhere, gets
 *    every analysed module class that satisfies it (implicitHandOvers);
 *  - locked regions (`lock.locked(cb)`, `await lock.acquire()` .. `release()`).
 * Then targets are resolved, each function gets its module, and calls become
 * classified edges.
 *
 * The runtime's own files (the directory declaring Module) are not analysed:
 * its internals call handlers reflectively, and what they mean is modelled here.
 */
import path from 'node:path';
import ts from 'typescript';
import type { Edge, FnNode, Graph, LockRegion, ModuleInfo, ModuleRef, Vertex } from './graph.js';
import type { Policy } from './model.js';

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

const POLICIES: ReadonlySet<string> = new Set<Policy>(['reentrant', 'defer', 'reject']);

type CoreRole = 'upcall' | 'entry' | 'locked' | 'acquire' | 'app' | 'runtime';

export function buildGraph(program: ts.Program, rootFiles: readonly string[], cwd: string): Graph {
  return new Extractor(program, rootFiles, cwd).run();
}

function skipOuter(e: ts.Expression): ts.Expression {
  for (;;) {
    if (
      ts.isParenthesizedExpression(e) ||
      ts.isAsExpression(e) ||
      ts.isNonNullExpression(e) ||
      ts.isTypeAssertionExpression(e) ||
      ts.isSatisfiesExpression(e)
    ) {
      e = e.expression;
    } else {
      return e;
    }
  }
}

function isWrapper(n: ts.Node): boolean {
  return (
    ts.isParenthesizedExpression(n) ||
    ts.isAsExpression(n) ||
    ts.isNonNullExpression(n) ||
    ts.isTypeAssertionExpression(n) ||
    ts.isSatisfiesExpression(n)
  );
}

export type FunctionWithBody =
  | ts.FunctionDeclaration
  | ts.MethodDeclaration
  | ts.ConstructorDeclaration
  | ts.GetAccessorDeclaration
  | ts.SetAccessorDeclaration
  | ts.ArrowFunction
  | ts.FunctionExpression;

export function isFunctionWithBody(n: ts.Node): n is FunctionWithBody {
  return (
    (ts.isFunctionDeclaration(n) ||
      ts.isMethodDeclaration(n) ||
      ts.isConstructorDeclaration(n) ||
      ts.isGetAccessorDeclaration(n) ||
      ts.isSetAccessorDeclaration(n) ||
      ts.isArrowFunction(n) ||
      ts.isFunctionExpression(n)) &&
    n.body !== undefined
  );
}

function nameText(name: ts.PropertyName | ts.BindingName | undefined): string {
  if (name === undefined) return '<anonymous>';
  if (ts.isIdentifier(name) || ts.isPrivateIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name)) {
    return name.text;
  }
  return '<computed>';
}

function hasMember(cls: ts.ClassLikeDeclaration, name: string): boolean {
  return cls.members.some((m) => m.name !== undefined && nameText(m.name) === name);
}

function stringLiteral(e: ts.Expression | undefined): string | undefined {
  if (e === undefined) return undefined;
  const x = skipOuter(e);
  if (ts.isStringLiteral(x) || ts.isNoSubstitutionTemplateLiteral(x)) return x.text;
  return undefined;
}

/** A statement after which the rest of its block runs on a later turn. */
function awaitsUnconditionally(s: ts.Statement): boolean {
  if (ts.isExpressionStatement(s)) {
    const e = skipOuter(s.expression);
    if (ts.isAwaitExpression(e)) return true;
    return ts.isBinaryExpression(e) && e.operatorToken.kind === ts.SyntaxKind.EqualsToken && ts.isAwaitExpression(skipOuter(e.right));
  }
  if (ts.isVariableStatement(s)) {
    return s.declarationList.declarations.some((d) => d.initializer !== undefined && ts.isAwaitExpression(skipOuter(d.initializer)));
  }
  return false;
}

class Extractor {
  private readonly checker: ts.TypeChecker;
  private readonly rootSet: Set<ts.SourceFile>;
  private readonly analysed = new Set<ts.SourceFile>();
  private coreDir: string | undefined;
  private coreFile: string | undefined;
  private modulesBesideCore = false;
  private readonly moduleOfClass = new Map<ts.ClassLikeDeclaration, ModuleInfo | null>();
  private readonly modules: ModuleInfo[] = [];
  private readonly nodes: FnNode[] = [];
  private readonly nodeOf = new Map<ts.Node, FnNode>();
  /** Declarations (entry properties) that stand for a node other than themselves. */
  private readonly alias = new Map<ts.Node, FnNode>();
  /** Declaration -> what else can run when it is called (handlers, closures, overrides, implementations). */
  private readonly refs = new Map<ts.Node, Set<ts.Node>>();
  private readonly resolved = new Map<ts.Node, FnNode[]>();
  private readonly flowed = new Map<ts.Type, Set<ts.Type>>();
  private readonly worth = new Map<ts.Type, boolean>();
  /** Handler function -> the module named as owner where it was bound. */
  private readonly ownerHint = new Map<ts.Node, ModuleRef>();
  private readonly regions: LockRegion[] = [];
  private readonly notes: string[] = [];

  constructor(
    private readonly program: ts.Program,
    rootFiles: readonly string[],
    private readonly cwd: string,
  ) {
    this.checker = program.getTypeChecker();
    this.rootSet = new Set();
    for (const f of rootFiles) {
      const sf = program.getSourceFile(f);
      if (sf !== undefined) this.rootSet.add(sf);
    }
  }

  run(): Graph {
    // Pass 1: find the module classes, and through them the runtime's directory.
    for (const sf of this.rootSet) this.findClasses(sf);
    // The runtime's directory is left out, unless modules live there too (a
    // fixture with its own copy of the API): then only the file declaring Module.
    this.modulesBesideCore = [...this.moduleOfClass.values()].some((m) => m !== null && path.dirname(m.decl.getSourceFile().fileName) === this.coreDir);
    for (const sf of this.rootSet) if (!this.isRuntimeFile(sf.fileName)) this.analysed.add(sf);
    for (const [, info] of this.moduleOfClass) {
      if (info !== null && this.analysed.has(info.decl.getSourceFile())) this.modules.push(info);
    }
    this.modules.sort((a, b) => (a.file === b.file ? a.line - b.line : a.file < b.file ? -1 : 1));
    // Pass 2: functions, calls, bindings.
    for (const sf of this.analysed) {
      for (const st of sf.statements) {
        try {
          this.visit(st, undefined);
        } catch (e) {
          // One construct the walk cannot handle must not hide the rest of the findings.
          this.notes.push(`${this.where(st)}: not analysed (${e instanceof Error ? e.message : String(e)})`);
        }
      }
    }
    this.implicitHandOvers();
    this.resolveTargets();
    this.assignModules();
    const { vertices, edges } = this.buildEdges();
    const out = new Map<Vertex, Edge[]>();
    for (const e of edges) {
      const l = out.get(e.from);
      if (l === undefined) out.set(e.from, [e]);
      else l.push(e);
    }
    return { fns: this.nodes, vertices, modules: this.modules, edges, out, regions: this.regions, files: this.analysed.size, notes: this.notes };
  }

  // ---- modules ---------------------------------------------------------------------------

  private findClasses(node: ts.Node): void {
    if (ts.isClassLike(node)) {
      if (this.isModuleBase(node)) this.setCore(node);
      else this.moduleInfo(node);
    }
    ts.forEachChild(node, (c) => this.findClasses(c));
  }

  private isRuntimeFile(fileName: string): boolean {
    if (this.coreFile === undefined) return false;
    return this.modulesBesideCore ? fileName === this.coreFile : path.dirname(fileName) === this.coreDir;
  }

  private setCore(moduleBase: ts.ClassLikeDeclaration): void {
    this.coreFile = moduleBase.getSourceFile().fileName;
    this.coreDir = path.dirname(this.coreFile);
  }

  /** Core's Module class: recognised by shape, so a fixture's copy of the API works too. */
  private isModuleBase(decl: ts.Node): boolean {
    return ts.isClassDeclaration(decl) && decl.name?.text === 'Module' && hasMember(decl, 'entry') && hasMember(decl, 'upcall');
  }

  private baseClass(cls: ts.ClassLikeDeclaration): ts.ClassLikeDeclaration | undefined {
    const ext = cls.heritageClauses?.find((h) => h.token === ts.SyntaxKind.ExtendsKeyword)?.types[0];
    if (ext === undefined) return undefined;
    const t = this.checker.getTypeAtLocation(ext);
    const d = (t.getSymbol() ?? t.aliasSymbol)?.declarations?.find((x): x is ts.ClassLikeDeclaration => ts.isClassLike(x));
    return d;
  }

  private moduleInfo(cls: ts.ClassLikeDeclaration): ModuleInfo | undefined {
    const known = this.moduleOfClass.get(cls);
    if (known !== undefined) return known ?? undefined;
    this.moduleOfClass.set(cls, null);
    const base = this.baseClass(cls);
    if (base === undefined) return undefined;
    let inherited: string | undefined;
    if (this.isModuleBase(base)) {
      if (this.coreFile === undefined) this.setCore(base);
    } else {
      const b = this.moduleInfo(base);
      if (b === undefined) return undefined;
      inherited = b.name;
    }
    const sf = cls.getSourceFile();
    const className = cls.name?.text ?? '<class>';
    const info: ModuleInfo = {
      id: `class:${this.rel(sf.fileName)}#${className}@${cls.pos}`,
      name: this.moduleName(cls, base) ?? inherited ?? className,
      className,
      decl: cls,
      file: this.rel(sf.fileName),
      line: this.lineOf(cls.name ?? cls),
      entries: [],
    };
    this.moduleOfClass.set(cls, info);
    return info;
  }

  /** The name literal passed up to Module's constructor, when the code shows it. */
  private moduleName(cls: ts.ClassLikeDeclaration, base: ts.ClassLikeDeclaration): string | undefined {
    const ctor = cls.members.find((m): m is ts.ConstructorDeclaration => ts.isConstructorDeclaration(m) && m.body !== undefined);
    if (ctor?.body === undefined) return undefined;
    let superCall: ts.CallExpression | undefined;
    const find = (n: ts.Node): void => {
      if (superCall !== undefined || isFunctionWithBody(n) || ts.isClassLike(n)) return;
      if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.SuperKeyword) superCall = n;
      else ts.forEachChild(n, find);
    };
    ts.forEachChild(ctor.body, find);
    if (superCall === undefined) return undefined;
    const decl = this.checker.getResolvedSignature(superCall)?.getDeclaration();
    let idx = -1;
    if (decl !== undefined && 'parameters' in decl) idx = decl.parameters.findIndex((p) => nameText(p.name) === 'name');
    if (idx < 0 && this.isModuleBase(base)) idx = 1;
    const arg = idx >= 0 ? superCall.arguments[idx] : undefined;
    if (arg === undefined) return undefined;
    const lit = stringLiteral(arg);
    if (lit !== undefined) return lit;
    const a = skipOuter(arg);
    if (ts.isIdentifier(a)) {
      // `constructor(rt, name = 'tcp') { super(rt, name) }`
      const p = ctor.parameters.find((q) => ts.isIdentifier(q.name) && q.name.text === a.text);
      return stringLiteral(p?.initializer);
    }
    return undefined;
  }

  private lexicalModule(n: ts.Node): ModuleInfo | undefined {
    for (let p = n.parent; p !== undefined; p = p.parent) {
      if (ts.isClassLike(p)) {
        const info = this.moduleInfo(p);
        if (info !== undefined) return info;
      }
    }
    return undefined;
  }

  private enclosingClass(n: ts.Node): ts.ClassLikeDeclaration | undefined {
    for (let p = n.parent; p !== undefined; p = p.parent) if (ts.isClassLike(p)) return p;
    return undefined;
  }

  // ---- the runtime's API -------------------------------------------------------------------

  private coreRole(decls: readonly ts.Declaration[]): CoreRole | undefined {
    for (const d of decls) {
      if (!ts.isMethodDeclaration(d) || !ts.isClassDeclaration(d.parent)) continue;
      const cls = d.parent;
      const name = nameText(d.name);
      if (this.isModuleBase(cls)) {
        if (name === 'upcall' || name === 'upcallAll') return 'upcall';
        if (name === 'entry') return 'entry';
        return 'runtime';
      }
      if (cls.name?.text === 'Monitor' && (name === 'locked' || name === 'acquire') && hasMember(cls, 'locked')) {
        return name === 'locked' ? 'locked' : 'acquire';
      }
      if (cls.name?.text === 'Runtime' && name === 'app') return 'app';
    }
    for (const d of decls) if (this.isRuntimeFile(d.getSourceFile().fileName)) return 'runtime';
    return undefined;
  }

  private calleeDecls(callee: ts.Expression): ts.Declaration[] {
    let sym: ts.Symbol | undefined;
    if (ts.isPropertyAccessExpression(callee)) sym = this.checker.getSymbolAtLocation(callee.name);
    else if (ts.isElementAccessExpression(callee)) sym = this.checker.getSymbolAtLocation(callee.argumentExpression);
    else sym = this.checker.getSymbolAtLocation(callee);
    if (sym !== undefined && sym.flags & ts.SymbolFlags.Alias) sym = this.checker.getAliasedSymbol(sym);
    return sym?.declarations ?? [];
  }

  private isLib(d: ts.Node): boolean {
    const sf = d.getSourceFile();
    return this.program.isSourceFileDefaultLibrary(sf) || sf.isDeclarationFile;
  }

  // ---- nodes -------------------------------------------------------------------------------

  private nodeFor(decl: ts.Node): FnNode | undefined {
    const known = this.nodeOf.get(decl);
    if (known !== undefined) return known;
    const sf = decl.getSourceFile();
    if (!this.analysed.has(sf)) return undefined;
    const lexical = this.lexicalModule(decl);
    const n: FnNode = {
      id: this.nodes.length,
      decl,
      name: this.nameFor(decl),
      file: this.rel(sf.fileName),
      line: this.lineOf(decl),
      lexical,
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

  private memberName(cls: ts.ClassLikeDeclaration, text: string): string {
    return this.moduleInfo(cls) !== undefined ? text : `${cls.name?.text ?? '<class>'}.${text}`;
  }

  /** Prefix a local name with the function it lives in. */
  private qualify(at: ts.Node, text: string): string {
    for (let p = at.parent; p !== undefined; p = p.parent) {
      if (isFunctionWithBody(p)) return `${this.nodeFor(p)?.name ?? this.nameFor(p)}.${text}`;
      if (ts.isPropertyDeclaration(p) && ts.isClassLike(p.parent)) return `${this.memberName(p.parent, nameText(p.name))}.${text}`;
    }
    return text;
  }

  private nameFor(decl: ts.Node): string {
    const parent = decl.parent;
    if (ts.isClassLike(parent)) {
      if (ts.isConstructorDeclaration(decl)) return this.memberName(parent, 'constructor');
      if (ts.isMethodDeclaration(decl) || ts.isGetAccessorDeclaration(decl) || ts.isSetAccessorDeclaration(decl) || ts.isPropertyDeclaration(decl)) {
        return this.memberName(parent, nameText(decl.name));
      }
    }
    if (ts.isFunctionDeclaration(decl)) return decl.name?.text ?? 'default';
    if ((ts.isMethodDeclaration(decl) || ts.isGetAccessorDeclaration(decl) || ts.isSetAccessorDeclaration(decl)) && ts.isObjectLiteralExpression(parent)) {
      return nameText(decl.name);
    }
    if (ts.isArrowFunction(decl) || ts.isFunctionExpression(decl)) {
      let child: ts.Node = decl;
      let p: ts.Node = parent;
      while (isWrapper(p)) {
        child = p;
        p = p.parent;
      }
      if (ts.isPropertyAssignment(p)) {
        // A handler is known by its slot; qualified when the class also has a member of that name.
        const key = nameText(p.name);
        const cls = this.enclosingClass(p);
        return cls !== undefined && hasMember(cls, key) ? this.qualify(p, key) : key;
      }
      if (ts.isPropertyDeclaration(p) && ts.isClassLike(p.parent)) return this.memberName(p.parent, nameText(p.name));
      if (ts.isVariableDeclaration(p) && ts.isIdentifier(p.name)) return this.qualify(p, p.name.text);
      if (ts.isBinaryExpression(p) && p.right === child) {
        const left = skipOuter(p.left);
        if (ts.isPropertyAccessExpression(left)) {
          const cls = this.enclosingClass(p);
          if (left.expression.kind === ts.SyntaxKind.ThisKeyword && cls !== undefined) return this.memberName(cls, left.name.text);
          return this.qualify(p, left.name.text);
        }
        if (ts.isIdentifier(left)) return this.qualify(p, left.text);
      }
      if ((ts.isCallExpression(p) || ts.isNewExpression(p)) && p.arguments?.some((a) => a === child)) {
        const callee = skipOuter(p.expression);
        const cn = ts.isPropertyAccessExpression(callee) ? callee.name.text : ts.isIdentifier(callee) ? callee.text : 'call';
        return this.qualify(p, `${cn}(cb)`);
      }
      if (ts.isFunctionExpression(decl) && decl.name !== undefined) return this.qualify(decl, decl.name.text);
      return this.qualify(decl, '<anonymous>');
    }
    if (ts.isPropertyDeclaration(decl)) return nameText(decl.name);
    return '<function>';
  }

  private addRefs(decl: ts.Node, values: readonly ts.Node[]): void {
    if (values.length === 0) return;
    let s = this.refs.get(decl);
    if (s === undefined) this.refs.set(decl, (s = new Set()));
    for (const v of values) if (v !== decl) s.add(v);
  }

  /** Declarations of the functions an expression can evaluate to. */
  private functionRefs(expr: ts.Expression): ts.Node[] {
    const e = skipOuter(expr);
    if (ts.isArrowFunction(e) || ts.isFunctionExpression(e)) return [e];
    if (ts.isIdentifier(e) || ts.isPropertyAccessExpression(e) || ts.isElementAccessExpression(e)) {
      return this.calleeDecls(e).filter(
        (d) =>
          !this.isLib(d) &&
          (isFunctionWithBody(d) ||
            ts.isPropertyDeclaration(d) ||
            ts.isVariableDeclaration(d) ||
            ts.isParameter(d) ||
            ts.isPropertyAssignment(d) ||
            ts.isShorthandPropertyAssignment(d) ||
            ts.isMethodSignature(d) ||
            ts.isPropertySignature(d)),
      );
    }
    if (ts.isCallExpression(e)) {
      // `this.handle.bind(this)`
      const c = skipOuter(e.expression);
      if (ts.isPropertyAccessExpression(c) && c.name.text === 'bind') return this.functionRefs(c.expression);
      return [];
    }
    if (ts.isConditionalExpression(e)) return [...this.functionRefs(e.whenTrue), ...this.functionRefs(e.whenFalse)];
    if (ts.isBinaryExpression(e)) {
      const k = e.operatorToken.kind;
      if (k === ts.SyntaxKind.QuestionQuestionToken || k === ts.SyntaxKind.BarBarToken) {
        return [...this.functionRefs(e.left), ...this.functionRefs(e.right)];
      }
      if (k === ts.SyntaxKind.AmpersandAmpersandToken) return this.functionRefs(e.right);
    }
    return [];
  }

  // ---- the walk ----------------------------------------------------------------------------

  private visit(node: ts.Node, fn: FnNode | undefined): void {
    if (isFunctionWithBody(node)) {
      const n = this.nodeFor(node);
      ts.forEachChild(node, (c) => this.visit(c, n));
      return;
    }
    if (ts.isClassLike(node)) {
      this.classRelations(node);
      ts.forEachChild(node, (c) => this.visit(c, undefined));
      return;
    }
    if (ts.isPropertyDeclaration(node) && node.initializer !== undefined) {
      this.propertyInitializer(node);
    } else if (ts.isCallExpression(node) || ts.isNewExpression(node)) {
      this.call(node, fn);
    } else if (ts.isObjectLiteralExpression(node)) {
      this.objectLiteral(node);
    } else if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.EqualsToken) {
      this.assignment(node);
    } else if (ts.isVariableDeclaration(node) && node.initializer !== undefined) {
      this.variable(node, fn);
    } else if (ts.isReturnStatement(node) && node.expression !== undefined) {
      this.flowInto(node.expression, undefined);
    }
    ts.forEachChild(node, (c) => this.visit(c, fn));
  }

  /** `implements` and `extends`: interface members and overridden methods get their implementations. */
  private classRelations(cls: ts.ClassLikeDeclaration): void {
    if (cls.heritageClauses === undefined) return;
    const sym = cls.name !== undefined ? this.checker.getSymbolAtLocation(cls.name) : undefined;
    if (sym === undefined) return;
    const inst = this.checker.getDeclaredTypeOfSymbol(sym);
    for (const h of cls.heritageClauses) {
      for (const t of h.types) {
        const other = this.checker.getTypeAtLocation(t);
        if (h.token === ts.SyntaxKind.ImplementsKeyword) {
          this.flow(inst, other, undefined, 0);
        } else {
          for (const m of cls.members) {
            if (m.name === undefined || ts.isConstructorDeclaration(m)) continue;
            const p = this.checker.getPropertyOfType(other, nameText(m.name));
            for (const d of p?.declarations ?? []) this.addRefs(d, [m]);
          }
        }
      }
    }
  }

  private propertyInitializer(prop: ts.PropertyDeclaration): void {
    const init = skipOuter(prop.initializer!);
    if (ts.isCallExpression(init) && this.coreRole(this.calleeDecls(skipOuter(init.expression))) === 'entry') {
      this.registerEntry([prop], nameText(prop.name), init);
    }
  }

  private assignment(bin: ts.BinaryExpression): void {
    const right = skipOuter(bin.right);
    const left = skipOuter(bin.left);
    const targets = ts.isIdentifier(left) || ts.isPropertyAccessExpression(left) || ts.isElementAccessExpression(left) ? this.calleeDecls(left) : [];
    if (targets.length === 0) return;
    if (ts.isCallExpression(right) && this.coreRole(this.calleeDecls(skipOuter(right.expression))) === 'entry') {
      const name = ts.isPropertyAccessExpression(left) ? left.name.text : ts.isIdentifier(left) ? left.text : 'entry';
      this.registerEntry(targets, name, right);
      return;
    }
    const values = this.functionRefs(right);
    for (const t of targets) this.addRefs(t, values);
    if (values.length === 0) this.flowInto(right, this.checker.getTypeAtLocation(left));
  }

  private registerEntry(holders: readonly ts.Node[], property: string, call: ts.CallExpression): void {
    const args = call.arguments;
    const cls = this.enclosingClass(call);
    const info = cls !== undefined ? this.moduleInfo(cls) : undefined;
    const entryName = stringLiteral(args[0]) ?? property;
    const policyText = stringLiteral(args[1]) ?? this.literalStrings(args[1])?.[0];
    let policy: Policy = 'reject';
    if (policyText !== undefined && POLICIES.has(policyText)) policy = policyText as Policy;
    else this.notes.push(`${this.where(call)}: entry '${entryName}' has no literal policy; treated as 'reject'`);
    const fnArg = args[2];
    if (fnArg === undefined) return;
    const fnExpr = skipOuter(fnArg);
    let node: FnNode | undefined;
    if (ts.isArrowFunction(fnExpr) || ts.isFunctionExpression(fnExpr)) {
      node = this.nodeFor(fnExpr);
    } else {
      // An entry wrapping a reference: a node of its own that calls what it wraps.
      node = this.nodeFor(holders[0]!);
      node?.calls.push({ refs: this.functionRefs(fnExpr), exact: false, line: this.lineOf(fnExpr), pos: fnExpr.getStart(), async: false, targets: [] });
    }
    if (node === undefined) return;
    node.entry = { name: entryName, policy };
    node.name = cls !== undefined ? this.memberName(cls, property) : property;
    for (const h of holders) this.alias.set(h, node);
    info?.entries.push({ name: entryName, policy });
  }

  private variable(decl: ts.VariableDeclaration, fn: FnNode | undefined): void {
    const init = skipOuter(decl.initializer!);
    if (ts.isAwaitExpression(init) && fn !== undefined) {
      const inner = skipOuter(init.expression);
      if (ts.isCallExpression(inner) && this.coreRole(this.calleeDecls(skipOuter(inner.expression))) === 'acquire') {
        this.acquireRegion(decl, inner, fn);
      }
      return;
    }
    if (decl.type !== undefined) this.flowInto(init, this.checker.getTypeFromTypeNode(decl.type));
  }

  private call(call: ts.CallExpression | ts.NewExpression, fn: FnNode | undefined): void {
    const callee = skipOuter(call.expression);
    const args = call.arguments ?? [];
    let decls: ts.Declaration[] = this.calleeDecls(callee);
    if (ts.isNewExpression(call)) {
      const cls = decls.find((d): d is ts.ClassLikeDeclaration => ts.isClassLike(d));
      if (cls !== undefined) decls = cls.members.filter((m) => ts.isConstructorDeclaration(m) && m.body !== undefined);
    }
    const role = this.coreRole(decls);
    if (role === 'upcall') {
      if (fn !== undefined && ts.isCallExpression(call)) this.upcallSite(call, fn);
      return;
    }
    if (role === 'entry' || role === 'acquire' || role === 'app') return;
    if (role === 'locked') {
      if (fn !== undefined && args[0] !== undefined) {
        const roots = this.functionRefs(args[0]);
        this.regions.push({ holder: fn, line: this.calleeLine(call), roots, ranges: [], rootNodes: [] });
        this.addSite(fn, call, roots, false);
      }
      return;
    }
    const libDecls = decls.filter((d) => this.isLib(d));
    const libCall = libDecls.length > 0 && libDecls.length === decls.length;
    // A library function keeps no handler of ours to call later (a value stored
    // in a Map comes back out typed as itself): nothing flows through it.
    if (!libCall && decls.length > 0) this.bindArguments(call);
    if (role === 'runtime') return;
    if (fn === undefined) return;
    if (libCall) {
      const name = ts.isPropertyAccessExpression(callee) ? callee.name.text : ts.isIdentifier(callee) ? callee.text : '';
      if (ts.isPropertyAccessExpression(callee) && (name === 'call' || name === 'apply')) {
        this.addSite(fn, call, this.functionRefs(callee.expression), false);
      } else if (SYNC_CALLBACK_METHODS.has(name) || (ts.isNewExpression(call) && name === 'Promise')) {
        this.addSite(fn, call, args.flatMap((a) => this.functionRefs(a)), false);
      }
      return;
    }
    const exact = ts.isPropertyAccessExpression(callee) && callee.expression.kind === ts.SyntaxKind.SuperKeyword;
    this.addSite(fn, call, decls.filter((d) => !this.isLib(d)), exact);
    this.passFunctions(call);
  }

  private addSite(fn: FnNode, call: ts.CallExpression | ts.NewExpression, refs: readonly ts.Node[], exact: boolean): void {
    if (refs.length === 0) return;
    fn.calls.push({ refs, exact, line: this.calleeLine(call), pos: call.getStart(), async: this.afterAwait(call, fn.decl), targets: [] });
  }

  /** A closure passed for a parameter can run wherever the callee calls that parameter. */
  private passFunctions(call: ts.CallExpression | ts.NewExpression): void {
    const args = call.arguments ?? [];
    let sigDecl: ts.SignatureDeclaration | undefined;
    for (let i = 0; i < args.length; i++) {
      const values = this.functionRefs(args[i]!);
      if (values.length === 0) continue;
      sigDecl ??= this.checker.getResolvedSignature(call)?.getDeclaration();
      if (sigDecl === undefined || !('parameters' in sigDecl)) return;
      const params = sigDecl.parameters;
      const p = params[i] ?? (params.length > 0 && params[params.length - 1]!.dotDotDotToken !== undefined ? params[params.length - 1] : undefined);
      if (p !== undefined) this.addRefs(p, values);
    }
  }

  private upcallSite(call: ts.CallExpression, fn: FnNode): void {
    const [bindingArg, slotArg] = call.arguments;
    if (bindingArg === undefined || slotArg === undefined) return;
    const h = this.slotSetType(call, bindingArg);
    if (h === undefined) {
      this.notes.push(`${this.where(call)}: cannot tell the slot type of this upcall; not followed`);
      return;
    }
    const slots = this.literalStrings(slotArg) ?? this.checker.getPropertiesOfType(h).map((p) => p.name);
    const line = this.calleeLine(call);
    const pos = call.getStart();
    const async = this.afterAwait(call, fn.decl);
    for (const slot of slots) {
      const decls = this.checker.getPropertyOfType(h, slot)?.declarations ?? [];
      fn.upcalls.push({ slotDecls: decls, slot, line, pos, async, targets: [] });
    }
  }

  /** H of the `Binding<H>` or `SlotTable<H>` an upcall goes through. */
  private slotSetType(call: ts.CallExpression, bindingArg: ts.Expression): ts.Type | undefined {
    const usable = (t: ts.Type | undefined): t is ts.Type =>
      t !== undefined && !(t.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown | ts.TypeFlags.TypeParameter | ts.TypeFlags.Never));
    const p0 = this.checker.getResolvedSignature(call)?.parameters[0];
    let h = p0 !== undefined ? this.firstTypeArgument(this.checker.getTypeOfSymbol(p0)) : undefined;
    if (!usable(h)) h = this.firstTypeArgument(this.checker.getTypeAtLocation(bindingArg));
    return usable(h) ? h : undefined;
  }

  private firstTypeArgument(t: ts.Type): ts.Type | undefined {
    const nn = this.checker.getNonNullableType(t);
    if (nn.isUnion()) {
      for (const m of nn.types) {
        const a = this.firstTypeArgument(m);
        if (a !== undefined) return a;
      }
      return undefined;
    }
    if (nn.flags & ts.TypeFlags.Object && (nn as ts.ObjectType).objectFlags & ts.ObjectFlags.Reference) {
      return this.checker.getTypeArguments(nn as ts.TypeReference)[0];
    }
    return nn.aliasTypeArguments?.[0];
  }

  private literalStrings(e: ts.Expression | undefined): string[] | undefined {
    if (e === undefined) return undefined;
    const lit = stringLiteral(e);
    if (lit !== undefined) return [lit];
    const t = this.checker.getTypeAtLocation(e);
    const parts = t.isUnion() ? t.types : [t];
    const out: string[] = [];
    for (const p of parts) {
      if (!p.isStringLiteral()) return undefined;
      out.push(p.value);
    }
    return out.length > 0 ? out : undefined;
  }

  private acquireRegion(decl: ts.VariableDeclaration, acquire: ts.CallExpression, fn: FnNode): void {
    const sym = ts.isIdentifier(decl.name) ? this.checker.getSymbolAtLocation(decl.name) : undefined;
    const stmt = decl.parent.parent;
    const block = stmt.parent;
    if (!ts.isVariableStatement(stmt) || !(ts.isBlock(block) || ts.isSourceFile(block) || ts.isCaseOrDefaultClause(block))) return;
    const list = block.statements;
    const ranges: [number, number][] = [];
    for (let i = list.indexOf(stmt) + 1; i < list.length; i++) {
      const s = list[i]!;
      const release = sym !== undefined ? this.callOf(s, sym) : undefined;
      if (release !== undefined) {
        if (ts.isTryStatement(s) && s.finallyBlock !== undefined && this.callOf(s.tryBlock, sym!) === undefined) {
          ranges.push([s.tryBlock.pos, s.tryBlock.end]);
          if (s.catchClause !== undefined) ranges.push([s.catchClause.pos, s.catchClause.end]);
        } else {
          ranges.push([s.pos, release.pos]);
        }
        break;
      }
      ranges.push([s.pos, s.end]);
    }
    this.regions.push({ holder: fn, line: this.calleeLine(acquire), roots: [], ranges, rootNodes: [] });
  }

  private callOf(n: ts.Node, sym: ts.Symbol): ts.CallExpression | undefined {
    let found: ts.CallExpression | undefined;
    const look = (x: ts.Node): void => {
      if (found !== undefined) return;
      if (ts.isCallExpression(x)) {
        const c = skipOuter(x.expression);
        if (ts.isIdentifier(c) && this.checker.getSymbolAtLocation(c) === sym) {
          found = x;
          return;
        }
      }
      ts.forEachChild(x, look);
    };
    look(n);
    return found;
  }

  /** True when an `await` that always runs comes before `n` in its function body. */
  private afterAwait(n: ts.Node, body: ts.Node): boolean {
    let cur: ts.Node = n;
    for (let p = n.parent; p !== undefined && p !== body; p = p.parent) {
      if (isFunctionWithBody(p)) break;
      if (ts.isBlock(p) || ts.isSourceFile(p) || ts.isCaseOrDefaultClause(p)) {
        for (const s of p.statements) {
          if (s === cur) break;
          if (awaitsUnconditionally(s)) return true;
        }
      }
      cur = p;
    }
    return false;
  }

  // ---- bindings ------------------------------------------------------------------------------

  private objectLiteral(obj: ts.ObjectLiteralExpression): void {
    const ctx = this.checker.getContextualType(obj);
    if (ctx === undefined) return;
    this.bindLiteral(obj, ctx, this.ownerForLiteral(obj, 0));
  }

  /**
   * The owner a literal of handlers is bound for: another argument of the call
   * it is passed to, or, for handlers returned by a handler (`onAccept: () =>
   * ({ onData })`), the owner of that handler.
   */
  private ownerForLiteral(obj: ts.ObjectLiteralExpression, depth: number): ModuleRef | undefined {
    const direct = this.ownerForArgument(obj);
    if (direct !== undefined || depth > 3) return direct;
    let fn: ts.Node | undefined = obj.parent;
    while (fn !== undefined && !isFunctionWithBody(fn)) fn = fn.parent;
    if (fn === undefined) return undefined;
    let p = fn.parent;
    while (p !== undefined && isWrapper(p)) p = p.parent;
    const holder = ts.isMethodDeclaration(fn) ? fn.parent : ts.isPropertyAssignment(p) ? p.parent : undefined;
    return holder !== undefined && ts.isObjectLiteralExpression(holder) ? this.ownerForLiteral(holder, depth + 1) : undefined;
  }

  private objectTypes(t: ts.Type): ts.Type[] {
    const nn = this.checker.getNonNullableType(t);
    return nn.isUnion() ? nn.types.filter((m) => (m.flags & ts.TypeFlags.Object) !== 0) : [nn];
  }

  /** Each function-valued property of the literal implements the same-named member of the type it is given as. */
  private bindLiteral(obj: ts.ObjectLiteralExpression, ctx: ts.Type, owner: ModuleRef | undefined): void {
    const targets = this.objectTypes(ctx);
    for (const prop of obj.properties) {
      let values: ts.Node[];
      if (ts.isPropertyAssignment(prop)) values = this.functionRefs(prop.initializer);
      else if (ts.isShorthandPropertyAssignment(prop)) values = this.checker.getShorthandAssignmentValueSymbol(prop)?.declarations ?? [];
      else if (ts.isMethodDeclaration(prop)) values = [prop];
      else if (ts.isSpreadAssignment(prop)) {
        // `{ ...common, onData }`: the spread object's handlers are bound too.
        const e = skipOuter(prop.expression);
        if (this.mayFlow(e)) this.bindValue(e, ctx, owner);
        continue;
      } else continue;
      const name = nameText(prop.name);
      if (values.length === 0) {
        if (ts.isPropertyAssignment(prop)) {
          for (const t of targets) {
            const p = this.checker.getPropertyOfType(t, name);
            if (p !== undefined) this.flowInto(prop.initializer, this.checker.getTypeOfSymbol(p));
          }
        }
        continue;
      }
      for (const t of targets) {
        for (const d of this.checker.getPropertyOfType(t, name)?.declarations ?? []) {
          if (d !== prop) this.addRefs(d, values);
        }
      }
      if (owner !== undefined) {
        for (const v of values) {
          if ((isFunctionWithBody(v) || ts.isPropertyAssignment(v)) && !this.ownerHint.has(v)) this.ownerHint.set(v, owner);
        }
      }
    }
  }

  /** Class instances and object-literal variables passed where an interface is expected. */
  private bindArguments(call: ts.CallExpression | ts.NewExpression): void {
    const args = call.arguments;
    if (args === undefined || args.length === 0) return;
    let sig: ts.Signature | undefined | null = null;
    for (let i = 0; i < args.length; i++) {
      const a = skipOuter(args[i]!);
      if (!this.mayFlow(a)) continue;
      // The parameter's type, from the signature the checker resolved (cached), not a contextual-type query per argument.
      if (sig === null) sig = this.checker.getResolvedSignature(call);
      const target = sig !== undefined ? this.paramType(sig, i) : undefined;
      if (target !== undefined) this.flowInto(a, target, call);
    }
  }

  private mayFlow(a: ts.Expression): boolean {
    return (
      ts.isIdentifier(a) ||
      a.kind === ts.SyntaxKind.ThisKeyword ||
      ts.isNewExpression(a) ||
      ts.isPropertyAccessExpression(a) ||
      ts.isCallExpression(a) ||
      ts.isElementAccessExpression(a)
    );
  }

  /** A value flowing where a type is expected (argument, initializer, assigned or returned value). */
  private flowInto(expr: ts.Expression, ctx: ts.Type | undefined, call?: ts.CallExpression | ts.NewExpression): void {
    const a = skipOuter(expr);
    if (!this.mayFlow(a)) return;
    const target = ctx ?? this.checker.getContextualType(a);
    if (target === undefined || !this.objectTypes(target).some((t) => this.worthFlowing(t))) return;
    this.bindValue(a, target, undefined, call);
  }

  private bindValue(e: ts.Expression, ctx: ts.Type, owner: ModuleRef | undefined, call?: ts.CallExpression | ts.NewExpression): void {
    let t = this.checker.getTypeAtLocation(e);
    if (t.isTypeParameter()) t = this.checker.getBaseConstraintOfType(t) ?? t;
    const sym = t.getSymbol();
    if (sym === undefined) return;
    const ownerOf = (): ModuleRef | undefined => owner ?? (call !== undefined ? this.ownerOfCall(call, e) : undefined);
    if (sym.flags & ts.SymbolFlags.ObjectLiteral) {
      const lit = sym.valueDeclaration;
      if (lit !== undefined && ts.isObjectLiteralExpression(lit)) this.bindLiteral(lit, ctx, ownerOf());
      return;
    }
    this.flow(t, ctx, ownerOf, 0);
  }

  /** Objects of a type worth relating: some member declared in the analysed code. */
  private worthFlowing(t: ts.Type): boolean {
    let w = this.worth.get(t);
    if (w === undefined) {
      w = this.checker.getPropertiesOfType(t).some((p) => p.declarations?.some((d) => this.analysed.has(d.getSourceFile())) === true);
      this.worth.set(t, w);
    }
    return w;
  }

  private paramType(sig: ts.Signature, i: number): ts.Type | undefined {
    const params = sig.getParameters();
    const last = params[params.length - 1];
    const lastDecl = last?.valueDeclaration;
    const rest = lastDecl !== undefined && ts.isParameter(lastDecl) && lastDecl.dotDotDotToken !== undefined;
    if (!rest || i < params.length - 1) {
      const p = params[i];
      return p !== undefined ? this.checker.getTypeOfSymbol(p) : undefined;
    }
    const t = this.checker.getTypeOfSymbol(last!);
    if (this.checker.isTupleType(t)) return this.checker.getTypeArguments(t as ts.TypeReference)[i - (params.length - 1)];
    return this.checker.isArrayType(t) ? this.checker.getTypeArguments(t as ts.TypeReference)[0] : undefined;
  }

  /**
   * Values of type `from` are used as `to` (an argument for a parameter, a class
   * for an interface it satisfies): calling a member of `to` can run the
   * same-named member of `from`. Followed into the members' signatures, since the
   * arguments given to `to`'s member reach `from`'s, and its results come back:
   * so handlers bound through one slot interface reach the upcalls of another it
   * is passed on as (Telnet's StreamSlots handed to TCP as TcpSlots).
   */
  private flow(from: ts.Type, to: ts.Type, owner: (() => ModuleRef | undefined) | undefined, depth: number): void {
    if (depth > 6) return;
    let ownerName: ModuleRef | undefined | null = null;
    for (const t of this.objectTypes(to)) {
      if (!this.worthFlowing(t)) continue;
      for (const f of this.objectTypes(from)) {
        if (f === t) continue;
        let done = this.flowed.get(f);
        if (done === undefined) this.flowed.set(f, (done = new Set()));
        if (done.has(t)) continue;
        done.add(t);
        for (const p of this.checker.getPropertiesOfType(t)) {
          const q = this.checker.getPropertyOfType(f, p.name);
          const pDecls = p.declarations ?? [];
          const qDecls = q?.declarations ?? [];
          if (q === undefined || pDecls.length === 0 || qDecls.length === 0 || pDecls[0] === qDecls[0]) continue;
          for (const d of pDecls) this.addRefs(d, qDecls);
          if (owner !== undefined) {
            if (ownerName === null) ownerName = owner();
            if (ownerName !== undefined) for (const m of qDecls) if (!this.ownerHint.has(m)) this.ownerHint.set(m, ownerName);
          }
          const ps = this.checker.getNonNullableType(this.checker.getTypeOfSymbol(p)).getCallSignatures()[0];
          const qs = this.checker.getNonNullableType(this.checker.getTypeOfSymbol(q)).getCallSignatures()[0];
          if (ps === undefined || qs === undefined) continue;
          const n = Math.max(ps.getParameters().length, qs.getParameters().length);
          for (let i = 0; i < n; i++) {
            const a = this.paramType(ps, i);
            const b = this.paramType(qs, i);
            if (a !== undefined && b !== undefined) this.flow(a, b, undefined, depth + 1);
          }
          this.flow(qs.getReturnType(), ps.getReturnType(), undefined, depth + 1);
        }
      }
    }
  }

  /**
   * A layer that takes the layer below as an interface of its own (Telnet's
   * StreamTransport) is assembled with it somewhere else: a host, an app, a
   * test. When the analysed code never hands any value over as such an
   * interface (`checkLoops({ paths: ['src'] })`, where only apps/ build a
   * Telnet server on TCP), every analysed module class that satisfies it
   * structurally is taken to be handed over as it, so the handlers bound
   * through it still reach the upcalls of the module below. Where the
   * analysed code does hand one over, that is what is followed.
   */
  private implicitHandOvers(): void {
    const given = new Set<ts.Type>();
    for (const tos of this.flowed.values()) for (const t of tos) given.add(t);
    const wanted: { iface: ts.Type; taker: ModuleInfo }[] = [];
    for (const m of this.modules) {
      const ctor = m.decl.members.find((x): x is ts.ConstructorDeclaration => ts.isConstructorDeclaration(x) && x.body !== undefined);
      for (const p of ctor?.parameters ?? []) {
        if (p.type === undefined) continue;
        for (const t of this.objectTypes(this.checker.getTypeFromTypeNode(p.type))) {
          if (given.has(t) || wanted.some((w) => w.iface === t && w.taker === m) || !this.serviceInterface(t)) continue;
          wanted.push({ iface: t, taker: m });
        }
      }
    }
    if (wanted.length === 0) return;
    const instances: [ModuleInfo, ts.Type][] = [];
    for (const c of this.modules) {
      const sym = c.decl.name !== undefined ? this.checker.getSymbolAtLocation(c.decl.name) : undefined;
      if (sym !== undefined) instances.push([c, this.checker.getDeclaredTypeOfSymbol(sym)]);
    }
    for (const { iface, taker } of wanted) {
      for (const [c, inst] of instances) {
        if (c !== taker && this.checker.isTypeAssignableTo(inst, iface)) this.flow(inst, iface, undefined, 0);
      }
    }
  }

  /** An interface of the analysed code with a method to call: what a layer asks of the one below. */
  private serviceInterface(t: ts.Type): boolean {
    const sym = t.getSymbol();
    if (sym === undefined || !(sym.flags & ts.SymbolFlags.Interface)) return false;
    if (!(sym.declarations ?? []).some((d) => this.analysed.has(d.getSourceFile()))) return false;
    return this.checker
      .getPropertiesOfType(t)
      .some((p) => !(p.flags & ts.SymbolFlags.Optional) && this.checker.getTypeOfSymbol(p).getCallSignatures().length > 0);
  }

  private ownerForArgument(e: ts.Expression): ModuleRef | undefined {
    let child: ts.Node = e;
    let p = e.parent;
    while (isWrapper(p)) {
      child = p;
      p = p.parent;
    }
    if ((ts.isCallExpression(p) || ts.isNewExpression(p)) && p.arguments?.some((a) => a === child)) return this.ownerOfCall(p, child);
    return undefined;
  }

  /** The module named by another argument of the call (`listen(port, owner, handlers)`). */
  private ownerOfCall(call: ts.CallExpression | ts.NewExpression, skip: ts.Node): ModuleRef | undefined {
    for (const a of call.arguments ?? []) {
      if (a === skip) continue;
      const name = this.ownerName(a, 0);
      if (name !== undefined) return name;
    }
    return undefined;
  }

  private ownerName(expr: ts.Expression, depth: number): ModuleRef | undefined {
    const e = skipOuter(expr);
    if (ts.isLiteralExpression(e) || ts.isObjectLiteralExpression(e) || ts.isArrowFunction(e) || ts.isFunctionExpression(e)) return undefined;
    let t = this.checker.getTypeAtLocation(e);
    if (t.isTypeParameter()) t = this.checker.getBaseConstraintOfType(t) ?? t;
    const cls = t.getSymbol()?.declarations?.find((d): d is ts.ClassLikeDeclaration => ts.isClassLike(d));
    if (cls === undefined) return undefined;
    if (!this.isModuleBase(cls)) return this.moduleInfo(cls);
    return this.appName(e, depth);
  }

  /** Name of a plain Module used as an owner: `rt.app('echo')`, `new Module(rt, 'echo')`, or a variable holding one. */
  private appName(e: ts.Expression, depth: number): ModuleRef | undefined {
    if (depth > 4) return undefined;
    const app = (name: string | undefined): ModuleRef | undefined => (name !== undefined ? { id: `app:${name}`, name } : undefined);
    if (ts.isCallExpression(e) && this.coreRole(this.calleeDecls(skipOuter(e.expression))) === 'app') return app(stringLiteral(e.arguments[0]));
    if (ts.isNewExpression(e)) {
      const cls = this.calleeDecls(skipOuter(e.expression)).find((d): d is ts.ClassLikeDeclaration => ts.isClassLike(d));
      if (cls === undefined) return undefined;
      if (this.isModuleBase(cls)) return app(stringLiteral(e.arguments?.[1]));
      return this.moduleInfo(cls);
    }
    if (ts.isIdentifier(e) || ts.isPropertyAccessExpression(e)) {
      for (const d of this.calleeDecls(e)) {
        if ((ts.isVariableDeclaration(d) || ts.isPropertyDeclaration(d)) && d.initializer !== undefined) {
          const n = this.appName(skipOuter(d.initializer), depth + 1);
          if (n !== undefined) return n;
        }
      }
    }
    return undefined;
  }

  // ---- resolution -----------------------------------------------------------------------------

  /** Every function that can run when `root` is called. */
  private resolveRef(root: ts.Node): FnNode[] {
    const memo = this.resolved.get(root);
    if (memo !== undefined) return memo;
    const out = new Set<FnNode>();
    const seen = new Set<ts.Node>();
    const stack: ts.Node[] = [root];
    while (stack.length > 0) {
      const d = stack.pop()!;
      if (seen.has(d)) continue;
      seen.add(d);
      const a = this.alias.get(d);
      if (a !== undefined) {
        out.add(a);
      } else if (isFunctionWithBody(d)) {
        const n = this.nodeFor(d);
        if (n !== undefined) out.add(n);
      } else if (
        (ts.isPropertyDeclaration(d) || ts.isVariableDeclaration(d) || ts.isPropertyAssignment(d) || ts.isParameter(d)) &&
        d.initializer !== undefined
      ) {
        stack.push(...this.functionRefs(d.initializer));
      } else if (ts.isShorthandPropertyAssignment(d)) {
        stack.push(...(this.checker.getShorthandAssignmentValueSymbol(d)?.declarations ?? []));
      }
      const more = this.refs.get(d);
      if (more !== undefined) for (const m of more) stack.push(m);
    }
    const list = [...out].sort((x, y) => x.id - y.id);
    this.resolved.set(root, list);
    return list;
  }

  private resolveExact(d: ts.Node): FnNode[] {
    const a = this.alias.get(d);
    if (a !== undefined) return [a];
    if (isFunctionWithBody(d)) {
      const n = this.nodeFor(d);
      return n !== undefined ? [n] : [];
    }
    return this.resolveRef(d);
  }

  private resolveTargets(): void {
    const uniq = (xs: FnNode[]): FnNode[] => [...new Set(xs)];
    for (let i = 0; i < this.nodes.length; i++) {
      const n = this.nodes[i]!;
      for (const s of n.calls) s.targets = uniq(s.refs.flatMap((r) => (s.exact ? this.resolveExact(r) : this.resolveRef(r))));
      for (const u of n.upcalls) u.targets = uniq(u.slotDecls.flatMap((d) => this.resolveRef(d)));
    }
    for (const r of this.regions) r.rootNodes = uniq(r.roots.flatMap((d) => this.resolveRef(d)));
  }

  /**
   * Lexical module first; a handler outside any module belongs to the owner it
   * was bound for, else to its file. Other code is left to the vertices.
   */
  private assignModules(): void {
    for (const n of this.nodes) {
      if (n.lexical !== undefined) {
        n.module = n.lexical.name;
        n.moduleId = n.lexical.id;
        n.anchored = true;
      }
    }
    for (const n of this.nodes) {
      for (const u of n.upcalls) {
        for (const t of u.targets) {
          if (t.anchored) continue;
          const m = this.ownerHint.get(t.decl) ?? this.pseudoModule(t.file);
          t.module = m.name;
          t.moduleId = m.id;
          t.anchored = true;
        }
      }
    }
    for (const n of this.nodes) {
      if (n.anchored) continue;
      const m = this.pseudoModule(n.file);
      n.module = m.name;
      n.moduleId = m.id;
    }
  }

  /**
   * Vertices and edges, from every function of a module outward: helper code
   * gets a vertex per module reaching it. Only calls made before any await of
   * their body count (the rest runs after the caller's activation is over).
   */
  private buildEdges(): { vertices: Vertex[]; edges: Edge[] } {
    const vertices: Vertex[] = [];
    const byKey = new Map<string, Vertex>();
    const vertex = (fn: FnNode, context: ModuleRef): Vertex => {
      const key = fn.anchored ? String(fn.id) : `${fn.id}@${context.id}`;
      let v = byKey.get(key);
      if (v === undefined) {
        v = {
          id: vertices.length,
          fn,
          module: fn.anchored ? fn.module : context.name,
          moduleId: fn.anchored ? fn.moduleId : context.id,
          name: fn.name,
          file: fn.file,
          line: fn.line,
          entry: fn.entry,
          anchored: fn.anchored,
        };
        vertices.push(v);
        byKey.set(key, v);
      }
      return v;
    };
    for (const n of this.nodes) if (n.anchored) vertex(n, { id: n.moduleId, name: n.module });
    const edges: Edge[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < vertices.length; i++) {
      const v = vertices[i]!;
      const sites: { line: number; pos: number; targets: FnNode[]; slot?: string; async: boolean }[] = [...v.fn.calls, ...v.fn.upcalls];
      sites.sort((a, b) => a.pos - b.pos);
      for (const s of sites) {
        if (s.async) continue;
        const upcall = s.slot !== undefined;
        for (const t of upcall ? s.targets : this.ownFirst(v.moduleId, s.targets)) {
          const w = vertex(t, { id: v.moduleId, name: v.module });
          if (w === v) continue;
          const key = `${v.id}>${w.id}`;
          if (seen.has(key)) continue;
          seen.add(key);
          let kind: Edge['kind'];
          let crossing: boolean;
          if (upcall) {
            kind = 'upcall';
            crossing = v.moduleId !== w.moduleId;
          } else if (v.moduleId === w.moduleId) {
            kind = 'call';
            crossing = false;
          } else {
            kind = w.entry !== undefined ? 'downcall' : 'bypass';
            crossing = true;
          }
          edges.push(upcall ? { from: v, to: w, line: s.line, pos: s.pos, kind, slot: s.slot!, crossing } : { from: v, to: w, line: s.line, pos: s.pos, kind, crossing });
        }
      }
    }
    return { vertices, edges };
  }

  /**
   * A call through an interface or a stored callback that can reach code of the
   * calling module or code of other modules is taken to reach the caller's own:
   * a callback is handed over by the module it belongs to (a decoder shared by
   * Telnet's client and server calls back whichever module is running it).
   * Entry points stay: they are guarded wherever they are called from.
   */
  private ownFirst(moduleId: string, targets: FnNode[]): FnNode[] {
    if (!targets.some((t) => t.anchored && t.moduleId === moduleId)) return targets;
    return targets.filter((t) => !t.anchored || t.moduleId === moduleId || t.entry !== undefined);
  }

  // ---- positions -------------------------------------------------------------------------------

  /** The module of code bound or called by nobody we know: named after its file. */
  private pseudoModule(file: string): ModuleRef {
    const name = file.slice(0, file.length - path.extname(file).length);
    return { id: `file:${file}`, name };
  }

  rel(fileName: string): string {
    return path.relative(this.cwd, fileName).split(path.sep).join('/');
  }

  private lineOf(n: ts.Node): number {
    const sf = n.getSourceFile();
    const at = (n as { name?: ts.Node }).name ?? n;
    return sf.getLineAndCharacterOfPosition(at.getStart(sf)).line + 1;
  }

  /** Line of the called name (`.send` in a chain broken over lines). */
  private calleeLine(call: ts.CallExpression | ts.NewExpression): number {
    const sf = call.getSourceFile();
    const c = skipOuter(call.expression);
    const at = ts.isPropertyAccessExpression(c) ? c.name : call;
    return sf.getLineAndCharacterOfPosition(at.getStart(sf)).line + 1;
  }

  private where(n: ts.Node): string {
    const sf = n.getSourceFile();
    return `${this.rel(sf.fileName)}:${sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1}`;
  }
}
