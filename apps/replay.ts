// Placeholder until issue 6 lands: trace replay is not built yet.
console.error(
  'npm run replay -- FILE: not built yet (issue 6). It will feed a pcap/pcapng capture through the stack\'s own\n' +
    'layers, reconstruct every TCP stream as Wireshark does, and print per-flow summaries and Telnet transcripts.',
);
process.exit(2);
