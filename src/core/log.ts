/**
 * Logging is pino JSON with `module` and `task` fields. The default logger is
 * silent unless UPCALL_LOG (a pino level) is set, so tests and benchmarks pay
 * nothing for it.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(name: string, level = process.env['UPCALL_LOG'] ?? 'silent'): Logger {
  return pino({ name, level, base: { host: name } }, pino.destination(2));
}
