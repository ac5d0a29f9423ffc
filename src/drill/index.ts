/**
 * packetdrill scripts against this stack: parse a .pkt script, run it in
 * virtual time with the script as the remote peer, get passed / failed /
 * unsupported with the line and the expected and actual segment or result.
 */
export { runDrill, applyTcpConfig, parseSysctls, flagText, optionText, type DrillOptions, type DrillResult, type DrillStatus } from './runner.js';
export { parseScript, exprText, ParseError } from './parser.js';
export { tokenize, type Token, type TokenKind } from './lexer.js';
export { Kernel, Unsupported, type KernelOptions, type CallResult, type Blocked } from './kernel.js';
export { PeerDevice, type WireSegment } from './peer.js';
export type * from './ast.js';
