/** Capture files (pcap, pcapng) and replaying them through the stack. */
export * from './capture.js';
export * from './pcap.js';
export * from './pcapng.js';
export * from './open.js';
export * from './replay.js';
export * from './report.js';
