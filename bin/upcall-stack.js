#!/usr/bin/env node
// `upcall-stack COMMAND [ARGS...]`: runs one of the compiled apps in this process
// with the remaining arguments, as if it had been started as `node dist/apps/X.js`.
// Plain JavaScript on purpose: an installed package runs on Node alone.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const COMMANDS = {
  demo: ['demo.js', 'the remote-login demo: two hosts on a simulated link (--interactive to type)'],
  replay: ['replay.js', 'replay a pcap/pcapng capture through the stack: flows, digests, Telnet transcript'],
  'check-loops': ['check-loops.js', 'the static loop checker on a TypeScript project (needs typescript installed)'],
  ping: ['ping.js', 'two hosts on a simulated link ping each other'],
  'tunnel-host': ['tunnel-host.js', 'one host on a UDP tunnel or a TAP link (server | client)'],
};
const NAMES = Object.keys(COMMANDS);
const USAGE = `usage: upcall-stack <${NAMES.join('|')}> [ARGS...] (--help for more)`;

function help() {
  const width = Math.max(...NAMES.map((n) => n.length));
  return [
    'usage: upcall-stack COMMAND [ARGS...]',
    '',
    'commands:',
    ...NAMES.map((n) => `  ${n.padEnd(width)}  ${COMMANDS[n][1]}`),
    '',
    "`upcall-stack COMMAND --help` shows a command's options.",
  ].join('\n');
}

const [cmd, ...rest] = process.argv.slice(2);
if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
  console.log(help());
  process.exit(0);
}
if (cmd === '--version' || cmd === '-V') {
  const pkg = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  console.log(pkg.version);
  process.exit(0);
}
if (cmd === undefined || !Object.hasOwn(COMMANDS, cmd)) {
  console.error(cmd === undefined ? USAGE : `upcall-stack: unknown command '${cmd}'; ${USAGE}`);
  process.exit(2);
}

const app = fileURLToPath(new URL(`../dist/apps/${COMMANDS[cmd][0]}`, import.meta.url));
if (!fs.existsSync(app)) {
  console.error(`upcall-stack: ${app} is missing: run \`npm run build\` first (or, in a clone, \`npm run ${cmd === 'check-loops' ? 'check:loops' : cmd}\`)`);
  process.exit(2);
}
// The checker loads the TypeScript compiler when it runs: say what is missing before it starts.
if (cmd === 'check-loops') {
  try {
    createRequire(app).resolve('typescript');
  } catch {
    console.error('upcall-stack check-loops: needs the TypeScript compiler: npm install --save-dev typescript');
    process.exit(2);
  }
}
// The apps run their main only when they are the program (argv[1]); they then
// read their arguments from argv[2...].
process.argv = [process.argv[0], app, ...rest];
try {
  await import(pathToFileURL(app).href);
} catch (e) {
  if (e?.code === 'ERR_MODULE_NOT_FOUND' && /'typescript'/.test(String(e.message))) {
    console.error(`upcall-stack ${cmd}: needs the TypeScript compiler: npm install --save-dev typescript`);
    process.exit(2);
  }
  throw e;
}
