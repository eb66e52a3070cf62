/**
 * Scoring one calibration edit (a still, or a clip's first window):
 * - background: PSNR against the source outside the edit region grown by 2 px (the pixels the
 *   edit should keep), pooled over a clip's frames; over every pixel when the case has no mask;
 * - inside: PSNR against the source inside the edit region: how little the edit changed there
 *   (lower is more change). It needs no answer and says nothing of whether the change is right;
 * - truth: PSNR against the ground-truth image, when the case (a still) has one;
 * - right (scene-world cases with a `check` and a world file): for an object the answer has, the
 *   output's largest component of its colour near the object's ground-truth coverage overlaps it
 *   with IoU ≥ 0.8 and is strictly its shape (world/metrics.ts, the strict judge, as the benchmark
 *   judges edits); for an
 *   object the answer no longer has (remove), no component of its colour of at least
 *   MIN_OBJECT_AREA pixels remains within 4 px of where it was;
 * - placed (the same cases): the object's colour is in place (IoU ≥ 0.5), shape not judged; for
 *   remove, the same as right.
 */
import type { RgbImage } from '../media/image.js';
import { labelPixels, largestComponent } from '../world/classify.js';
import { checkObject, clipPsnr, grow, MIN_OBJECT_AREA, not, psnr } from '../world/metrics.js';
import type { World } from '../world/world.js';
import type { LoadedCalibrationCase } from './calibration-media.js';

export interface CaseJudgement {
  readonly id: string;
  readonly right: boolean | null;
  readonly placed: boolean | null;
  readonly psnrTruth: number | null;
  readonly psnrBackground: number;
  /** PSNR against the source inside the edit region (null without a mask) */
  readonly psnrInside: number | null;
}

/** A mask plane [H·W] in [0, 1] as 0/1 (≥ 0.5 is in). */
function binaryPlane(m: Float32Array): Uint8Array {
  return Uint8Array.from(m, (v) => (v >= 0.5 ? 1 : 0));
}

/** Judges the output frames `out` (as many as the case's, at their size) of one calibration edit. */
export function judgeCase(lc: LoadedCalibrationCase, out: readonly RgbImage[], world: World | null): CaseJudgement {
  const first = out[0];
  if (!first || out.length !== lc.frames.length) throw new Error(`Case ${lc.id}: expected ${lc.frames.length} output frame(s) but received ${out.length}`);
  const { width: W, height: H } = first;
  const region = lc.region;
  if (region && (region.width !== W || region.height !== H)) {
    throw new Error(`Case ${lc.id}: its mask is ${region.width}×${region.height} but the image is ${W}×${H}; calibration masks must match their images`);
  }
  const planes = region ? out.map((_, f) => binaryPlane(region.frames[region.frames.length === 1 ? 0 : f]!)) : null; // [H·W] per frame
  const background = planes?.map((p) => not(grow(p, W, H, 2)));
  let right: boolean | null = null;
  let placed: boolean | null = null;
  if (world && lc.check && lc.checkMask && out.length === 1) {
    const labels = labelPixels(world, first);
    const truth = binaryPlane(lc.checkMask.frames[0]!);
    if (lc.check.present) {
      ({ right, placed } = checkObject(world, labels, truth, lc.check.colour, lc.check.shape));
    } else {
      const left = largestComponent(labels, lc.check.colour, grow(truth, W, H, 4));
      right = placed = !left || left.area < MIN_OBJECT_AREA;
    }
  }
  return {
    id: lc.id,
    right,
    placed,
    psnrTruth: lc.truth ? psnr(first, lc.truth) : null,
    psnrBackground: clipPsnr(out, lc.frames, background),
    psnrInside: planes ? clipPsnr(out, lc.frames, planes) : null,
  };
}
