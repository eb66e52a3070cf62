/** `flowedit queue status|retry-failed|drain URL`: the Redis batch queue at a glance, and its two repairs. */
import { openQueue, QUEUE_NAME, type QueueClient } from '../../batch/queue.js';
import { checkRedisUrl, redactUrl } from '../../batch/redis-url.js';
import { EXIT, UserError } from '../errors.js';
import { userCheck } from './common.js';

export interface QueueArgs {
  readonly url: string;
  readonly json?: boolean;
}

/** Failed jobs listed at most. */
const FAILED_SHOWN = 50;

async function withQueue<T>(a: QueueArgs, fn: (q: QueueClient) => Promise<T>): Promise<T> {
  try {
    checkRedisUrl(a.url);
  } catch (err) {
    throw new UserError((err as Error).message.replace(/^--queue /, ''), EXIT.usage);
  }
  const q = await userCheck(() => openQueue(a.url));
  try {
    return await fn(q);
  } finally {
    await q.close();
  }
}

const itemOf = (data: unknown): string => {
  const d = data as { itemIndex?: unknown; manifest?: unknown } | undefined;
  return d && typeof d.itemIndex === 'number' && typeof d.manifest === 'string' ? `item ${d.itemIndex} of ${d.manifest}` : 'not a batch item';
};

export async function statusAction(a: QueueArgs): Promise<void> {
  await withQueue(a, async (q) => {
    const counts = await q.counts();
    const failed = await q.failed(FAILED_SHOWN);
    const shown = redactUrl(a.url);
    if (a.json) {
      const doc = { queue: shown, name: QUEUE_NAME, counts, failed: failed.map((f) => ({ id: f.id, item: itemOf(f.data), reason: f.failedReason ?? '' })) };
      process.stdout.write(`${JSON.stringify(doc)}\n`);
      return;
    }
    const lines = [`${shown} queue ${QUEUE_NAME}: ${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(', ')}`];
    for (const f of failed) lines.push(`  failed ${f.id.slice(0, 12)} (${itemOf(f.data)}): ${f.failedReason ?? ''}`);
    if (counts.failed > failed.length) lines.push(`  … and ${counts.failed - failed.length} more failed`);
    if (counts.failed > 0) lines.push(`  after fixing the cause: flowedit queue retry-failed ${shown}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  });
}

export async function retryFailedAction(a: QueueArgs): Promise<void> {
  await withQueue(a, async (q) => {
    const n = await q.retryFailed();
    process.stdout.write(`queued again ${n} failed job${n === 1 ? '' : 's'} on ${redactUrl(a.url)} queue ${QUEUE_NAME}\n`);
  });
}

export async function drainAction(a: QueueArgs): Promise<void> {
  await withQueue(a, async (q) => {
    const n = await q.drain();
    process.stdout.write(`removed ${n} waiting job${n === 1 ? '' : 's'} from ${redactUrl(a.url)} queue ${QUEUE_NAME}\n`);
  });
}
