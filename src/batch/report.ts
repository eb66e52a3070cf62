/** The batch report: `batch-report.json` in the output folder (really inside it), written atomically. */
import { join } from 'node:path';
import { writeFileAtomic } from '../media/atomic-file.js';
import { assertOutputInside } from './confine.js';
import type { BatchReport } from './run.js';

export function reportPath(outDir: string): string {
  return join(outDir, 'batch-report.json');
}

export async function writeBatchReport(report: BatchReport): Promise<string> {
  const path = reportPath(report.outDir);
  await assertOutputInside(report.outDir, path);
  await writeFileAtomic(path, Buffer.from(`${JSON.stringify(report, null, 2)}\n`));
  return path;
}
