/** Messages between the batch command and its inference workers. */
import type { OutputDone } from '../batch/execute.js';
import type { PlannedItem } from '../batch/plan.js';
import type { Progress } from '../edit/progress.js';
import type { Device } from '../model/devices.js';

export interface BatchWorkerData {
  readonly packDir: string;
  readonly threads: number;
  readonly device?: Device;
}

export type BatchParentMessage =
  | { readonly type: 'run'; readonly item: PlannedItem; readonly pending: readonly string[] }
  | { readonly type: 'abort' }
  | { readonly type: 'stop' };

export type BatchWorkerMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'progress'; readonly progress: Progress }
  | { readonly type: 'warning'; readonly message: string }
  | { readonly type: 'done'; readonly outputs: OutputDone[] }
  | { readonly type: 'failed'; readonly message: string };
