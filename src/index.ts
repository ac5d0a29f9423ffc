/** The public API of upcall-stack. */
export * from './core/index.js';
