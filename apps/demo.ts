// Placeholder until issue 5 lands: the remote-login demo is not built yet.
console.error(
  'npm run demo: not built yet (issue 5). It will run two hosts on a simulated link, log a Telnet client in to\n' +
    'the stack\'s Telnet server, type commands at a human pace, and print the session, a keystroke\'s task path\n' +
    'and a summary of packets per keystroke and piggybacked ACKs.',
);
process.exit(2);
