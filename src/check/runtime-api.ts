/**
 * Recognising the runtime's API (src/core) in the analysed code. A
 * declaration belongs to the runtime when its source file is in the runtime's
 * directory, never by its name alone: a user's class called `Module`, or one
 * with an `upcall` method, is ordinary code.
 *
 * The runtime's directory is the `core` folder beside this checker (src/core
 * when run from the sources, dist/src/core from a build), or the one given.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as ts from 'typescript';
import { nameText } from './syntax.js';
import { TS } from './ts.js';

/** What a call into the runtime means to the checker. */
export type CoreRole = 'upcall' | 'entry' | 'query' | 'afterUnwind' | 'locked' | 'acquire' | 'app' | 'runtime';

export const DEFAULT_RUNTIME_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../core');

export class RuntimeApi {
  private readonly dirs: readonly string[];

  constructor(
    private readonly program: ts.Program,
    runtimeDir: string = DEFAULT_RUNTIME_DIR,
  ) {
    this.dirs = [path.resolve(runtimeDir)];
  }

  isRuntimeFile(fileName: string): boolean {
    const dir = path.dirname(path.resolve(fileName));
    return this.dirs.includes(dir);
  }

  private inRuntime(d: ts.Node): boolean {
    return this.isRuntimeFile(d.getSourceFile().fileName);
  }

  /** Core's Module class. */
  isModuleBase(decl: ts.Node): decl is ts.ClassDeclaration {
    return TS.isClassDeclaration(decl) && decl.name?.text === 'Module' && this.inRuntime(decl);
  }

  /** The role of a callee given its declarations, when it is the runtime's. */
  role(decls: readonly ts.Declaration[]): CoreRole | undefined {
    let runtime = false;
    for (const d of decls) {
      if (!this.inRuntime(d)) continue;
      runtime = true;
      if (!TS.isMethodDeclaration(d) || !TS.isClassDeclaration(d.parent)) continue;
      const cls = d.parent.name?.text;
      const name = nameText(d.name);
      if (cls === 'Module') {
        if (name === 'upcall' || name === 'upcallAll') return 'upcall';
        if (name === 'entry') return 'entry';
        if (name === 'query') return 'query';
        if (name === 'afterUnwind') return 'afterUnwind';
        return 'runtime';
      }
      if (cls === 'Monitor' && (name === 'locked' || name === 'acquire')) return name;
      if (cls === 'Runtime' && name === 'app') return 'app';
    }
    return runtime ? 'runtime' : undefined;
  }

  /** A declaration of the standard library or of a package's types. */
  isLib(d: ts.Node): boolean {
    const sf = d.getSourceFile();
    return sf.isDeclarationFile || this.program.isSourceFileDefaultLibrary(sf);
  }
}
