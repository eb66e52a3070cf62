/**
 * The pack a pool worker keeps between tasks, by folder, device and threads: loaded for a task, or
 * ahead of it (preload) while the parent still checks the task. A task on the kept pack waits only
 * for what is left of its load; a task on another pack releases it (once its load has settled) and
 * loads its own.
 */
import { timedLoad } from '../media/profile.js';
import type { LoadedPack } from '../model/pack.js';
import { loadPackOf, type PackRef } from './pool-task.js';

interface Kept {
  readonly key: string;
  readonly pack: Promise<LoadedPack>;
  /** set once the load has succeeded */
  loaded: boolean;
}

export interface PackKeeper {
  /** starts loading the pack for a later task (releasing another kept pack first); settles with the load, a failure dropped */
  preload(ref: PackRef): Promise<void>;
  /** the task's pack, and the seconds the task waited for its load (0: loaded already) */
  packFor(ref: PackRef): Promise<{ pack: LoadedPack; loadSeconds: number }>;
  /** releases the kept pack once its load has settled */
  release(): Promise<void>;
}

const keyOf = (ref: PackRef): string => JSON.stringify([ref.packDir, ref.device ?? 'cpu', ref.threads ?? 0]);

export function createPackKeeper(): PackKeeper {
  let kept: Kept | null = null;

  async function release(): Promise<void> {
    const old = kept;
    kept = null;
    if (old) await old.pack.then((p) => p.release(), () => undefined);
  }

  /** Loads the pack after `before` (the release of the one kept so far), as the kept one. */
  function start(ref: PackRef, before: Promise<void> = Promise.resolve()): Kept {
    const entry: Kept = { key: keyOf(ref), pack: before.then(() => loadPackOf(ref)), loaded: false };
    // the handler on failure also keeps a failed preload from being an unhandled rejection
    entry.pack.then(
      () => (entry.loaded = true),
      () => {
        if (kept === entry) kept = null;
      },
    );
    kept = entry;
    return entry;
  }

  return {
    async preload(ref) {
      const entry = kept?.key === keyOf(ref) ? kept : start(ref, release());
      await entry.pack.then(
        () => undefined,
        () => undefined,
      );
    },
    async packFor(ref) {
      if (kept && kept.key !== keyOf(ref)) await release();
      const entry = kept;
      if (entry?.loaded) return { pack: await entry.pack, loadSeconds: 0 };
      const started = performance.now();
      // a load still unfinished here is a preload's: if it fails, the task loads again (and reports that failure)
      const load = entry ? entry.pack.catch(() => start(ref).pack) : start(ref).pack;
      const pack = await timedLoad(() => load);
      return { pack, loadSeconds: (performance.now() - started) / 1000 };
    },
    release,
  };
}
