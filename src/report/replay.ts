/**
 * A report of a capture replay: the options that hook a collector into
 * replayCapture (the stack's runtime observed, every record decoded as it is fed).
 *
 *     const c = new ReportCollector();
 *     const r = await replayCapture(file, { ...replayReportHooks(c), onTranscript: ... });
 *     writeReport('replay.html', c.build({ title: file, kind: 'replay', summary: r.summary }));
 */
import type { CapturedFrame } from '../layers/nic/capture-link.js';
import type { ReplayStack } from '../trace/replay.js';
import type { ReportCollector } from './collector.js';

export interface ReplayReportHooks {
  onStack(stack: ReplayStack): void;
  onRecord(rec: CapturedFrame): void;
}

export function replayReportHooks(c: ReportCollector): ReplayReportHooks {
  let host = 'replay';
  let epochMs: number | null = null;
  return {
    onStack(stack) {
      host = stack.rt.name;
      c.observe(stack.rt);
    },
    onRecord(rec) {
      // The same clock the replay runs on: ms since the first record (the task's start time replaces it).
      const ms = Number(rec.timestampNs) / 1e6;
      if (epochMs === null) epochMs = ms;
      c.frame(host, 'rx', ms - epochMs, rec.data, rec.linkType);
    },
  };
}
