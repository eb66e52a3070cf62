/**
 * Clip length against a pack's frame rules (docs/model-pack.md 2.2): one pass takes 1 + step·k
 * frames up to `max`, and the count must suit the temporal compression r (F ≡ 1 mod r). A clip
 * that fits one pass is padded (its last frame repeated) to the next allowed count and trimmed
 * back; a longer clip is cut into overlapping windows of the largest allowed count whose decoded
 * frames are cross-faded linearly across each overlap.
 */
import type { RgbImage } from '../../media/image.js';
import type { Manifest } from '../../model/manifest.js';

export interface ClipWindow {
  /** first frame of the clip this window covers */
  readonly start: number;
  /** clip frames it covers */
  readonly length: number;
  /** frames fed to the model (length plus repeats of the last frame) */
  readonly padded: number;
}

/** Frame counts one pass accepts, ascending. A pack without `frames` takes stills only: [1]. */
export function allowedFrameCounts(m: Pick<Manifest, 'frames' | 'latent'>): number[] {
  const { max, step } = m.frames ?? { max: 1, step: 1 };
  const r = m.latent.temporalCompression;
  const out: number[] = [];
  for (let f = 1; f <= max; f += step) if ((f - 1) % r === 0) out.push(f);
  return out;
}

/** Validates a window overlap (--overlap): frames shared by neighbouring windows, a non-negative integer. */
export function checkOverlap(overlap: number | undefined): void {
  if (overlap !== undefined && !(Number.isInteger(overlap) && overlap >= 0)) {
    throw new Error(`Expected a non-negative integer for --overlap but received ${overlap}`);
  }
}

/**
 * Validates a window length (--window): a frame count one pass of the pack accepts. A shorter
 * window than the pack's largest holds less in memory (attention grows with the square of the
 * frames), at the price of more windows.
 */
export function checkWindow(window: number | undefined, m: Pick<Manifest, 'frames' | 'latent'>): void {
  if (window === undefined) return;
  const counts = allowedFrameCounts(m);
  if (!counts.includes(window)) {
    const shown = counts.length > 12 ? `${counts.slice(0, 6).join(', ')}, …, ${counts[counts.length - 1]}` : counts.join(', ');
    throw new Error(`--window ${window}: one pass of this pack takes ${shown} frames; choose one of these`);
  }
}

/**
 * Plans the windows for a clip of `frames` frames. `overlap` (frames shared by neighbouring
 * windows, default a quarter of a window, at least 1) applies only when the clip needs several;
 * `window` caps a pass at that many frames (an allowed count; default the pack's largest).
 */
export function planWindows(frames: number, m: Pick<Manifest, 'frames' | 'latent'>, overlap?: number, window?: number): ClipWindow[] {
  if (!(Number.isInteger(frames) && frames > 0)) throw new Error(`Expected a positive frame count but received ${frames}`);
  checkOverlap(overlap);
  checkWindow(window, m);
  const counts = allowedFrameCounts(m).filter((c) => window === undefined || c <= window);
  const W = counts[counts.length - 1]!;
  const fits = counts.find((c) => c >= frames);
  if (fits !== undefined) return [{ start: 0, length: frames, padded: fits }];
  if (W === 1) return Array.from({ length: frames }, (_, i) => ({ start: i, length: 1, padded: 1 }));
  const O = Math.min(W - 1, overlap ?? Math.max(1, Math.round(W / 4)));
  const n = Math.ceil((frames - O) / (W - O));
  return Array.from({ length: n }, (_, i) => ({ start: Math.round((i * (frames - W)) / (n - 1)), length: W, padded: W }));
}

/** The window's frames, the last repeated up to its padded count. */
export function windowFrames<T>(frames: readonly T[], w: ClipWindow): T[] {
  const out = frames.slice(w.start, w.start + w.length);
  while (out.length < w.padded) out.push(out[out.length - 1]!);
  return out;
}

/** Weight of window i at clip frame f: linear ramps across the overlaps with its neighbours. */
export function windowWeight(windows: readonly ClipWindow[], i: number, f: number): number {
  const w = windows[i]!;
  const end = w.start + w.length;
  if (f < w.start || f >= end) return 0;
  const prev = windows[i - 1];
  const next = windows[i + 1];
  const left = prev ? Math.max(0, prev.start + prev.length - w.start) : 0;
  const right = next ? Math.max(0, end - next.start) : 0;
  return Math.min(1, (f - w.start + 1) / (left + 1), (end - f) / (right + 1));
}

/**
 * Joins the windows' outputs (each `length` frames or more; extra padded frames are ignored) into
 * `frames` frames, cross-fading linearly where windows overlap.
 */
export function crossFade(windows: readonly ClipWindow[], outputs: readonly (readonly RgbImage[])[], frames: number): RgbImage[] {
  const out: RgbImage[] = [];
  for (let f = 0; f < frames; f++) {
    const parts = windows.flatMap((w, i) => {
      const weight = windowWeight(windows, i, f);
      return weight > 0 ? [{ img: outputs[i]![f - w.start]!, weight }] : [];
    });
    const first = parts[0];
    if (!first) throw new Error(`No window covers frame ${f}`);
    if (parts.length === 1) {
      out.push(first.img);
      continue;
    }
    const total = parts.reduce((s, p) => s + p.weight, 0);
    const data = new Float32Array(first.img.data.length);
    for (const p of parts) {
      const a = p.weight / total;
      for (let j = 0; j < data.length; j++) data[j]! += a * p.img.data[j]!;
    }
    out.push({ width: first.img.width, height: first.img.height, data });
  }
  return out;
}
