/**
 * Visual reports of a run: `ReportCollector` gathers a run's tasks, frames and
 * TCP state; `renderReport` / `writeReport` turn them into one self-contained
 * HTML page; `readReportData` takes a run back out of a page (for --compare).
 */
export { clockZero, ReportCollector, type ReportLimits, type ThreadRecord } from './collector.js';
export { ThreadRecorder } from './thread.js';
export { summaryRows, type BuildInfo } from './build.js';
export { decodeFrame, type DecodedFrame, type TcpFields } from './decode.js';
export { replayReportHooks, type ReplayReportHooks } from './replay.js';
export { formatBytes, loadReportData, readReportData, renderReport, writeReport, type RenderOptions } from './writer.js';
export * from './model.js';
