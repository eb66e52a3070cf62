/** Messages between a worker pool and its workers: the one protocol every inference worker speaks. */

/** A task to run: the export `name` of `module` (see pool-task.ts), on `input`. */
export type PoolParentMessage = { readonly type: 'run'; readonly module: string; readonly name: string; readonly input: unknown } | { readonly type: 'abort' } | { readonly type: 'stop' };

export type PoolWorkerMessage =
  | { readonly type: 'progress'; readonly progress: unknown }
  | { readonly type: 'warning'; readonly message: string }
  | { readonly type: 'done'; readonly result: unknown }
  | { readonly type: 'cancelled' }
  | { readonly type: 'error'; readonly message: string; readonly stack?: string; readonly user: boolean; readonly exitCode?: number };
