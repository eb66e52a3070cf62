/** Messages between a worker pool and its workers: the one protocol every inference worker speaks. */
import type { MediaFacts } from '../media/facts.js';
import type { ToolFacts } from '../media/ffmpeg-tools.js';
import type { Profile } from '../media/profile.js';
import type { PackRef } from './pool-task.js';

/**
 * A task to run: the export `name` of `module` (see pool-task.ts), on `input`; with `profile`, its
 * profile comes back with its result. `media` is what the parent found out about ffmpeg and the
 * files it probed (media/facts.ts), so the worker does not run the same tools again. `load` starts
 * loading a pack and keeps it for the next task: no answer comes back, and a failed load is dropped
 * (the next task on that pack loads it again); with `tools` (the parent's tool facts) the task
 * will run ffmpeg, and the worker gets ready to start it (warmTools) beside the load.
 */
export type PoolParentMessage =
  | { readonly type: 'run'; readonly module: string; readonly name: string; readonly input: unknown; readonly profile?: boolean; readonly media?: MediaFacts }
  | { readonly type: 'load'; readonly ref: PackRef; readonly tools?: ToolFacts }
  | { readonly type: 'abort' }
  | { readonly type: 'stop' };

export type PoolWorkerMessage =
  | { readonly type: 'progress'; readonly progress: unknown }
  | { readonly type: 'warning'; readonly message: string }
  | { readonly type: 'done'; readonly result: unknown; readonly profile?: Profile }
  | { readonly type: 'cancelled' }
  | { readonly type: 'error'; readonly message: string; readonly stack?: string; readonly user: boolean; readonly exitCode?: number };
