/**
 * Turning the paths the user named into a TypeScript Program, with the
 * compiler options of the project's tsconfig so imports resolve as they do for
 * `tsc`. The paths become the root files: a fixture excluded by tsconfig is
 * still checked when it is named.
 *
 * The checker needs the types of the analysed code and of the standard
 * library (a Map's values, a Promise), not those of packages or of Node's
 * built-in modules: imports of packages are left unresolved and no `types`
 * are loaded, which halves the files the compiler parses and checks.
 */
import fs from 'node:fs';
import path from 'node:path';
import type * as ts from 'typescript';
import { CheckInputError } from './model.js';
import { loadTypeScript } from './ts.js';

const SKIP_DIRS = new Set(['node_modules', '.git']);

function isSource(name: string): boolean {
  return (name.endsWith('.ts') || name.endsWith('.tsx') || name.endsWith('.mts')) && !name.endsWith('.d.ts');
}

/** Every TypeScript source under one directory, in a stable order. */
function walk(dir: string, out: string[]): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    throw new CheckInputError(`cannot read directory '${dir}': ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (!SKIP_DIRS.has(e.name)) walk(p, out);
    } else if (e.isFile() && isSource(e.name)) {
      out.push(p);
    }
  }
}

/**
 * Absolute paths of the TypeScript sources named by `paths` (files or
 * directories, relative to `cwd`). Throws CheckInputError for a missing path,
 * an unreadable one, or one holding no TypeScript. With `optional`, paths
 * that do not exist are skipped (the CLI's defaults).
 */
export function collectFiles(paths: readonly string[], cwd: string, optional = false): string[] {
  const out: string[] = [];
  for (const p of paths) {
    const abs = path.resolve(cwd, p);
    let st: fs.Stats;
    try {
      st = fs.statSync(abs);
    } catch {
      if (optional) continue;
      throw new CheckInputError(`no such file or directory: '${p}'`);
    }
    if (st.isDirectory()) {
      const before = out.length;
      walk(abs, out);
      if (out.length === before && !optional) throw new CheckInputError(`no TypeScript files under '${p}'`);
    } else if (isSource(abs)) {
      try {
        fs.accessSync(abs, fs.constants.R_OK);
      } catch {
        throw new CheckInputError(`cannot read '${p}'`);
      }
      out.push(abs);
    } else if (!optional) {
      throw new CheckInputError(`not a TypeScript file: '${p}'`);
    }
  }
  if (out.length === 0) throw new CheckInputError(`no TypeScript files in ${paths.map((p) => `'${p}'`).join(', ')}`);
  return [...new Set(out)];
}

/** The tsconfig.json that applies: the one given, else the nearest at or above `cwd`. */
export function findTsconfig(cwd: string, tsconfig?: string): string | undefined {
  if (tsconfig !== undefined) return path.resolve(cwd, tsconfig);
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    const f = path.join(dir, 'tsconfig.json');
    if (fs.existsSync(f)) return f;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** Compiler options from the tsconfig (or sensible defaults). */
export function compilerOptions(cwd: string, tsconfig?: string): ts.CompilerOptions {
  const TS = loadTypeScript();
  const file = findTsconfig(cwd, tsconfig);
  if (file === undefined) {
    return {
      target: TS.ScriptTarget.ES2022,
      module: TS.ModuleKind.NodeNext,
      moduleResolution: TS.ModuleResolutionKind.NodeNext,
      strict: true,
    };
  }
  const read = TS.readConfigFile(file, TS.sys.readFile);
  if (read.error !== undefined) {
    throw new CheckInputError(`cannot read ${file}: ${TS.flattenDiagnosticMessageText(read.error.messageText, ' ')}`);
  }
  const parsed = TS.parseJsonConfigFileContent(read.config, TS.sys, path.dirname(file), undefined, file);
  return parsed.options;
}

/**
 * Parsed files kept for the life of the process, keyed by name and reused
 * while their text is the same: the standard library and the runtime are
 * parsed (and bound) once for all the checks a test suite or the benchmark
 * runs in one process. The compiler reuses bound files the same way.
 */
const parsed = new Map<string, { text: string; sf: ts.SourceFile }>();

function isTheStack(spec: string): boolean {
  return spec === 'upcall-stack' || spec.startsWith('upcall-stack/');
}

function isRelative(spec: string): boolean {
  return spec.startsWith('./') || spec.startsWith('../') || spec.startsWith('/') || spec === '.' || spec === '..';
}

export function createProgram(files: readonly string[], options: ts.CompilerOptions): ts.Program {
  const TS = loadTypeScript();
  const opts: ts.CompilerOptions = { ...options, noEmit: true, incremental: false, composite: false, skipLibCheck: true, types: [], declaration: false };
  const host = TS.createCompilerHost(opts, true);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    const v = typeof languageVersion === 'object' ? `${languageVersion.languageVersion}/${languageVersion.impliedNodeFormat ?? ''}` : String(languageVersion);
    const key = `${v}:${fileName}`;
    const text = host.readFile(fileName);
    if (text === undefined) return read(fileName, languageVersion, onError, shouldCreate);
    const known = parsed.get(key);
    if (known !== undefined && known.text === text) return known.sf;
    const sf = TS.createSourceFile(fileName, text, languageVersion, true);
    parsed.set(key, { text, sf });
    return sf;
  };
  // Only the project's own files and the stack itself (a user's project imports the runtime as
  // 'upcall-stack'): any other package or built-in module stays unresolved (its values are `any`).
  host.resolveModuleNameLiterals = (literals, containingFile, redirected, compilerOptions, containingSourceFile) =>
    literals.map((lit) => {
      if (!isRelative(lit.text) && !isTheStack(lit.text)) return { resolvedModule: undefined };
      const mode = TS.getModeForUsageLocation(containingSourceFile, lit, compilerOptions);
      return TS.resolveModuleName(lit.text, containingFile, compilerOptions, host, undefined, redirected, mode);
    });
  return TS.createProgram({ rootNames: files, options: opts, host });
}
