/** The byte formats: each a plain record with parse, emit and write-into-headroom. */
export * from './addr.js';
export * from './buffer.js';
export * from './checksum.js';
export * from './ethernet.js';
export * from './sll.js';
export * from './arp.js';
export * from './ipv4.js';
export * from './icmp.js';
export * from './udp.js';
export * from './tcp.js';
export * from './addr6.js';
export * from './ipv6.js';
export * from './ipv6ext.js';
export * from './icmpv6.js';
export * from './ndp.js';
export * as telnet from './telnet.js';
