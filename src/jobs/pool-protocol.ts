/** Messages between a worker pool and its workers. */
import type { Progress } from '../edit/progress.js';
import type { JobSpec, JobSummary } from './job.js';

export type PoolParentMessage = { readonly type: 'run'; readonly spec: JobSpec } | { readonly type: 'abort' } | { readonly type: 'stop' };

export type PoolWorkerMessage =
  | { readonly type: 'progress'; readonly progress: Progress }
  | { readonly type: 'warning'; readonly message: string }
  | { readonly type: 'done'; readonly summary: JobSummary }
  | { readonly type: 'cancelled' }
  | { readonly type: 'error'; readonly message: string; readonly stack?: string; readonly user: boolean; readonly exitCode?: number };
