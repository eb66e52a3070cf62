/**
 * The two paths' velocity over one state [x_rec, x_edit]: at each solver stage the reconstruction
 * path is called first and, while the plan shares the step, hands its keys/values of the plan's
 * layers to the edit path, whose self-attention then sees softmax(Q_edit [K_edit; K_rec]ᵀ/√d)
 * (ContextFlow's enrichment, arXiv 2509.17818; the bias over [K_edit; K_rec] is `enrich`'s).
 * Both paths are one solver state so every stage sees them at the same t.
 */
import { isShared, type ContextFeeds, type SharePlan } from '../../attention/plan.js';
import { releaseKV, type LayerKV } from '../../model/transformer.js';
import type { VelocityOn } from '../../solvers/index.js';
import type { Space } from './space.js';
import type { PathVelocity } from './velocity.js';

/** A pair of one space's values: [reconstruction path, edit path]. */
export type TwoPaths<V> = readonly [V, V];

export function twoPathVelocity<V>(
  space: Space<V>,
  plan: SharePlan,
  rec: PathVelocity,
  edit: PathVelocity,
  enrich: (recKV: ReadonlyMap<number, LayerKV>) => ContextFeeds,
): VelocityOn<TwoPaths<V>> {
  return async ([xr, xe], t, at) => {
    const shared = isShared(plan, at.step);
    // on the host the reconstruction's keys/values come back repeated to the edit path's batch, in buffers reused every step
    const r = await space.call(rec, xr, t, shared ? { fetchKV: plan.layers, kvBatch: edit.batch } : {});
    try {
      const e = await space.call(edit, xe, t, shared ? { context: enrich(r.kv) } : {});
      return [r.v, e.v] as const; // [v_rec, v_edit]
    } finally {
      releaseKV(r.kv);
    }
  };
}
