/**
 * Locked regions seen in the walk: the statements between `await lock.acquire()`
 * and the release (the callback of `lock.locked(cb)` is recorded where it is called).
 */
import type * as ts from 'typescript';
import type { Extraction } from './context.js';
import type { FnNode } from './graph.js';
import { skipOuter } from './syntax.js';
import { TS } from './ts.js';

export function acquireRegion(cx: Extraction, decl: ts.VariableDeclaration, acquire: ts.CallExpression, fn: FnNode): void {
  const sym = TS.isIdentifier(decl.name) ? cx.checker.getSymbolAtLocation(decl.name) : undefined;
  const stmt = decl.parent.parent;
  const block = stmt.parent;
  if (!TS.isVariableStatement(stmt) || !(TS.isBlock(block) || TS.isSourceFile(block) || TS.isCaseOrDefaultClause(block))) return;
  const list = block.statements;
  const ranges: [number, number][] = [];
  for (let i = list.indexOf(stmt) + 1; i < list.length; i++) {
    const s = list[i]!;
    const release = sym !== undefined ? callOf(cx, s, sym) : undefined;
    if (release !== undefined) {
      if (TS.isTryStatement(s) && s.finallyBlock !== undefined && callOf(cx, s.tryBlock, sym!) === undefined) {
        ranges.push([s.tryBlock.pos, s.tryBlock.end]);
        if (s.catchClause !== undefined) ranges.push([s.catchClause.pos, s.catchClause.end]);
      } else {
        ranges.push([s.pos, release.pos]);
      }
      break;
    }
    ranges.push([s.pos, s.end]);
  }
  cx.regions.push({ holder: fn, line: cx.calleeLine(acquire), roots: [], ranges, rootNodes: [] });
}

function callOf(cx: Extraction, n: ts.Node, sym: ts.Symbol): ts.CallExpression | undefined {
  let found: ts.CallExpression | undefined;
  const look = (x: ts.Node): void => {
    if (found !== undefined) return;
    if (TS.isCallExpression(x)) {
      const c = skipOuter(x.expression);
      if (TS.isIdentifier(c) && cx.checker.getSymbolAtLocation(c) === sym) {
        found = x;
        return;
      }
    }
    TS.forEachChild(x, look);
  };
  look(n);
  return found;
}
