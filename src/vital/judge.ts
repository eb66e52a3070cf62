/**
 * Scoring one calibration edit against its right answer:
 * - background: PSNR against the source outside the edit region grown by 2 px (the pixels the
 *   edit should keep);
 * - truth: PSNR against the ground-truth image, when the case has one;
 * - right (scene-world cases with a `check` and a world file): for an object the answer has, the
 *   output's largest component of its colour near the object's ground-truth coverage covers it
 *   with IoU ≥ 0.5 and has its shape (world/metrics.ts, as the benchmark judges edits); for an
 *   object the answer no longer has (remove), no component of its colour of at least
 *   MIN_OBJECT_AREA pixels remains within 4 px of where it was;
 * - placed (the same cases): the object's colour is in place (IoU ≥ 0.5), shape not judged; for
 *   remove, the same as right.
 */
import type { RgbImage } from '../media/image.js';
import { labelPixels, largestComponent } from '../world/classify.js';
import { checkObject, grow, MIN_OBJECT_AREA, not, psnr } from '../world/metrics.js';
import type { World } from '../world/world.js';
import type { LoadedCalibrationCase } from './calibration.js';

export interface CaseJudgement {
  readonly id: string;
  readonly right: boolean | null;
  readonly placed: boolean | null;
  readonly psnrTruth: number | null;
  readonly psnrBackground: number;
}

/** A mask plane [H·W] in [0, 1] as 0/1 (≥ 0.5 is in). */
function binaryPlane(m: Float32Array): Uint8Array {
  return Uint8Array.from(m, (v) => (v >= 0.5 ? 1 : 0));
}

export function judgeCase(lc: LoadedCalibrationCase, out: RgbImage, world: World | null): CaseJudgement {
  const { width: W, height: H } = out;
  if (lc.region.width !== W || lc.region.height !== H) {
    throw new Error(`Case ${lc.id}: its mask is ${lc.region.width}×${lc.region.height} but the image is ${W}×${H}; calibration masks must match their images`);
  }
  const background = not(grow(binaryPlane(lc.region.frames[0]!), W, H, 2));
  let right: boolean | null = null;
  let placed: boolean | null = null;
  if (world && lc.check && lc.checkMask) {
    const labels = labelPixels(world, out);
    const truth = binaryPlane(lc.checkMask.frames[0]!);
    if (lc.check.present) {
      ({ right, placed } = checkObject(world, labels, truth, lc.check.colour, lc.check.shape));
    } else {
      const left = largestComponent(labels, lc.check.colour, grow(truth, W, H, 4));
      right = placed = !left || left.area < MIN_OBJECT_AREA;
    }
  }
  return { id: lc.id, right, placed, psnrTruth: lc.truth ? psnr(out, lc.truth) : null, psnrBackground: psnr(out, lc.source, background) };
}
