/**
 * Questions about syntax alone (no type checker): unwrapping, names, literals,
 * and whether an `await` always comes before a node in its function.
 */
import type * as ts from 'typescript';
import { TS } from './ts.js';

export type FunctionWithBody =
  | ts.FunctionDeclaration
  | ts.MethodDeclaration
  | ts.ConstructorDeclaration
  | ts.GetAccessorDeclaration
  | ts.SetAccessorDeclaration
  | ts.ArrowFunction
  | ts.FunctionExpression;

export function isWrapper(n: ts.Node): boolean {
  return (
    TS.isParenthesizedExpression(n) ||
    TS.isAsExpression(n) ||
    TS.isNonNullExpression(n) ||
    TS.isTypeAssertionExpression(n) ||
    TS.isSatisfiesExpression(n)
  );
}

/** The expression under parentheses, `as`, `!`, `<T>` and `satisfies`. */
export function skipOuter(e: ts.Expression): ts.Expression {
  while (isWrapper(e)) e = (e as ts.ParenthesizedExpression).expression;
  return e;
}

export function isFunctionWithBody(n: ts.Node): n is FunctionWithBody {
  return (
    (TS.isFunctionDeclaration(n) ||
      TS.isMethodDeclaration(n) ||
      TS.isConstructorDeclaration(n) ||
      TS.isGetAccessorDeclaration(n) ||
      TS.isSetAccessorDeclaration(n) ||
      TS.isArrowFunction(n) ||
      TS.isFunctionExpression(n)) &&
    n.body !== undefined
  );
}

export function nameText(name: ts.PropertyName | ts.BindingName | undefined): string {
  if (name === undefined) return '<anonymous>';
  if (TS.isIdentifier(name) || TS.isPrivateIdentifier(name) || TS.isStringLiteral(name) || TS.isNumericLiteral(name)) return name.text;
  return '<computed>';
}

export function hasMember(cls: ts.ClassLikeDeclaration, name: string): boolean {
  return cls.members.some((m) => m.name !== undefined && nameText(m.name) === name);
}

export function stringLiteral(e: ts.Expression | undefined): string | undefined {
  if (e === undefined) return undefined;
  const x = skipOuter(e);
  if (TS.isStringLiteral(x) || TS.isNoSubstitutionTemplateLiteral(x)) return x.text;
  return undefined;
}

export function enclosingClass(n: ts.Node): ts.ClassLikeDeclaration | undefined {
  for (let p = n.parent; p !== undefined; p = p.parent) if (TS.isClassLike(p)) return p;
  return undefined;
}

/** The nearest function around `n` (not `n` itself). */
export function enclosingFunction(n: ts.Node): FunctionWithBody | undefined {
  for (let p = n.parent; p !== undefined; p = p.parent) if (isFunctionWithBody(p)) return p;
  return undefined;
}

/**
 * An `await` inside `n` that runs whenever `n` runs: not in a nested function,
 * not in a branch (`?:`, the right of `&&`/`||`/`??`), not in a nested statement.
 */
function awaitsAlways(n: ts.Node): boolean {
  if (TS.isAwaitExpression(n)) return true;
  if (isFunctionWithBody(n) || TS.isClassLike(n) || TS.isConditionalExpression(n)) {
    return TS.isConditionalExpression(n) ? awaitsAlways(n.condition) : false;
  }
  if (TS.isBinaryExpression(n)) {
    const k = n.operatorToken.kind;
    const lazy = k === TS.SyntaxKind.AmpersandAmpersandToken || k === TS.SyntaxKind.BarBarToken || k === TS.SyntaxKind.QuestionQuestionToken;
    return awaitsAlways(n.left) || (!lazy && awaitsAlways(n.right));
  }
  return TS.forEachChild(n, (c) => (awaitsAlways(c) ? true : undefined)) === true;
}

/** A statement after which the rest of its block runs on a later turn. */
function statementAwaits(s: ts.Statement): boolean {
  if (TS.isExpressionStatement(s)) return awaitsAlways(s.expression);
  if (TS.isVariableStatement(s)) return s.declarationList.declarations.some((d) => d.initializer !== undefined && awaitsAlways(d.initializer));
  if (TS.isForOfStatement(s) && s.awaitModifier !== undefined) return true;
  return false;
}

/**
 * True when an `await` that always runs comes before `n` in its function
 * body: a statement before it in an enclosing block, or an operand evaluated
 * before it (`f(await x)` calls f after the await).
 */
export function afterAwait(n: ts.Node, body: ts.Node): boolean {
  let cur: ts.Node = n;
  for (let p = n.parent; p !== undefined && p !== body; p = p.parent) {
    if (isFunctionWithBody(p)) break;
    if (TS.isBlock(p) || TS.isSourceFile(p) || TS.isCaseOrDefaultClause(p)) {
      for (const s of p.statements) {
        if (s === cur) break;
        if (statementAwaits(s)) return true;
      }
    } else if (TS.isCallExpression(p) || TS.isNewExpression(p)) {
      // Arguments are evaluated before the call, and the callee before them.
      if (cur === p.expression) {
        // nothing evaluated before the callee
      } else if (awaitsAlways(p.expression)) {
        return true;
      } else {
        for (const a of p.arguments ?? []) {
          if (a === cur) break;
          if (awaitsAlways(a)) return true;
        }
      }
    }
    cur = p;
  }
  // The call's own operands: `send(await x)` sends after the await.
  if (TS.isCallExpression(n) || TS.isNewExpression(n)) {
    if ((n.arguments ?? []).some((a) => awaitsAlways(a))) return true;
  }
  return false;
}
