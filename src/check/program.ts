/**
 * Turning the paths the user named into a TypeScript Program, with the
 * compiler options of the project's tsconfig so imports resolve as they do for
 * `tsc`. The paths become the root files: a fixture excluded by tsconfig is
 * still checked when it is named.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { CheckInputError } from './model.js';

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

const FALLBACK_OPTIONS: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  strict: true,
  skipLibCheck: true,
};

/** Compiler options from the nearest tsconfig.json at or above `cwd` (or sensible defaults). */
export function compilerOptions(cwd: string, tsconfig?: string): ts.CompilerOptions {
  const file = tsconfig !== undefined ? path.resolve(cwd, tsconfig) : ts.findConfigFile(cwd, ts.sys.fileExists, 'tsconfig.json');
  if (file === undefined) return { ...FALLBACK_OPTIONS };
  const read = ts.readConfigFile(file, ts.sys.readFile);
  if (read.error !== undefined) {
    throw new CheckInputError(`cannot read ${file}: ${ts.flattenDiagnosticMessageText(read.error.messageText, ' ')}`);
  }
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, path.dirname(file), undefined, file);
  return parsed.options;
}

/**
 * Parsed declaration files (the standard library, @types, packages), kept for
 * the life of the process: they do not change under us, and parsing them is
 * most of the cost of a second run (tests, the benchmark).
 */
const declarationFiles = new Map<string, ts.SourceFile>();

export function createProgram(files: readonly string[], options: ts.CompilerOptions): ts.Program {
  const opts: ts.CompilerOptions = { ...options, noEmit: true, incremental: false, composite: false };
  const host = ts.createCompilerHost(opts, true);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    if (!fileName.endsWith('.d.ts')) return read(fileName, languageVersion, onError, shouldCreate);
    const v = typeof languageVersion === 'object' ? languageVersion.languageVersion : languageVersion;
    const key = `${v}:${fileName}`;
    let sf = declarationFiles.get(key);
    if (sf === undefined) {
      sf = read(fileName, languageVersion, onError, shouldCreate);
      if (sf !== undefined) declarationFiles.set(key, sf);
    }
    return sf;
  };
  return ts.createProgram({ rootNames: files, options: opts, host });
}
