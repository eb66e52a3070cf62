/** The batch report: `batch-report.json` in the output folder (really inside it), written atomically. */
import { join } from 'node:path';
import { writeFileAtomic } from '../media/atomic-file.js';
import { assertOutputInside } from './confine.js';
import type { BatchReport } from './run.js';
import { shardSuffix, type Shard } from './shard.js';

/** batch-report.json, or batch-report-shard-i-of-N.json for a shard's. */
export function reportPath(outDir: string, shard?: Shard): string {
  return join(outDir, `batch-report${shardSuffix(shard)}.json`);
}

export async function writeBatchReport(report: BatchReport): Promise<string> {
  const path = reportPath(report.outDir, report.shard);
  await assertOutputInside(report.outDir, path);
  await writeFileAtomic(path, Buffer.from(`${JSON.stringify(report, null, 2)}\n`));
  return path;
}
