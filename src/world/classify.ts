/**
 * Reading a rendered or generated frame back into the scene world's terms.
 *
 * Pixel labels: every pixel takes the nearest (Euclidean RGB) of the reference colours, which
 * are the palette's colours and the pattern shade of each background colour.
 * Objects: the pixels labelled with an object colour, restricted to a region if given, form
 * 4-connected components; the largest is the object. Its shape (strict): each world shape's
 * silhouette is placed on the component by moments and rasterised at pixel centres; the shape
 * with the highest intersection-over-union wins, and counts only with IoU ≥ SHAPE_IOU. A blob,
 * a disc drawn for a square or a rounded star is no shape. python/flowedit_scenes/judge.py is the
 * same judge in Python (a training run's in-run check); the two are tested to agree.
 * Background colour: each pixel labelled with a background colour or that colour's shade votes
 * for that colour; pixels under objects are left out; the most votes wins.
 */
import type { RgbImage } from '../media/image.js';
import type { Point, Rgb, World } from './world.js';

export interface Labels {
  readonly width: number;
  readonly height: number;
  /** per pixel, index into `refs` */
  readonly index: Uint8Array;
  readonly refs: readonly { readonly colour: string; readonly shade: boolean; readonly rgb: Rgb }[];
}

export interface Component {
  /** 1 inside, 0 outside: [H·W] */
  readonly mask: Uint8Array;
  readonly area: number;
  readonly box: { readonly x0: number; readonly y0: number; readonly x1: number; readonly y1: number };
}

/**
 * One frame of a clip (or a still) as 0..255 RGB, pixel-interleaved, rounded to 1/1000: [H·W·3].
 * The rounding makes an 8-bit image's values whole numbers again, so a pixel equally near two
 * reference colours is settled alike here and in the Python judge (the first reference wins).
 */
export function toBytes(img: RgbImage): Float64Array {
  const n = img.width * img.height;
  const out = new Float64Array(3 * n);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < n; i++) out[3 * i + c] = Math.round(((img.data[c * n + i]! + 1) / 2) * 255 * 1000) / 1000;
  }
  return out;
}

export function labelPixels(world: World, img: RgbImage): Labels {
  const refs = [
    ...[...world.colours].map(([colour, rgb]) => ({ colour, shade: false, rgb })),
    ...[...world.shades].map(([colour, rgb]) => ({ colour, shade: true, rgb })),
  ];
  const px = toBytes(img);
  const n = img.width * img.height;
  const index = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestD = Infinity;
    refs.forEach((r, k) => {
      const d = (px[3 * i]! - r.rgb[0]) ** 2 + (px[3 * i + 1]! - r.rgb[1]) ** 2 + (px[3 * i + 2]! - r.rgb[2]) ** 2;
      if (d < bestD) {
        bestD = d;
        best = k;
      }
    });
    index[i] = best;
  }
  return { width: img.width, height: img.height, index, refs };
}

/** Largest 4-connected component of the pixels labelled `colour` (not its shade), within `region` if given. */
export function largestComponent(labels: Labels, colour: string, region?: Uint8Array): Component | null {
  const { width: W, height: H, index, refs } = labels;
  const want = refs.findIndex((r) => r.colour === colour && !r.shade);
  const seen = new Uint8Array(W * H);
  let best: number[] = [];
  const stack: number[] = [];
  for (let start = 0; start < W * H; start++) {
    if (seen[start] || index[start] !== want || (region && !region[start])) continue;
    const comp: number[] = [];
    seen[start] = 1;
    stack.push(start);
    while (stack.length) {
      const p = stack.pop()!;
      comp.push(p);
      const x = p % W;
      const y = (p - x) / W;
      for (const q of [x > 0 ? p - 1 : -1, x < W - 1 ? p + 1 : -1, y > 0 ? p - W : -1, y < H - 1 ? p + W : -1]) {
        if (q >= 0 && !seen[q] && index[q] === want && (!region || region[q])) {
          seen[q] = 1;
          stack.push(q);
        }
      }
    }
    if (comp.length > best.length) best = comp;
  }
  if (best.length === 0) return null;
  const mask = new Uint8Array(W * H);
  let x0 = W;
  let y0 = H;
  let x1 = -1;
  let y1 = -1;
  for (const p of best) {
    mask[p] = 1;
    const x = p % W;
    const y = (p - x) / W;
    x0 = Math.min(x0, x);
    x1 = Math.max(x1, x);
    y0 = Math.min(y0, y);
    y1 = Math.max(y1, y);
  }
  return { mask, area: best.length, box: { x0, y0, x1, y1 } };
}

/** Overlap a shape's silhouette must reach to count as that shape (chosen on the renderer's ground truth: docs/lab/strict-judge.md). */
export const SHAPE_IOU = 0.85;
/** Refinements of the silhouette's placement: scales of the moment estimate, centre shifts in pixels. */
const SCALES = [0.94, 1, 1.06] as const;
const SHIFTS = [-0.5, 0, 0.5] as const;

/** Area and centroid of a simple polygon (shoelace), summed in order as the Python judge sums them. */
function moments(poly: readonly Point[]): { area: number; gx: number; gy: number } {
  let a = 0;
  let cx = 0;
  let cy = 0;
  poly.forEach(([x, y], i) => {
    const [x1, y1] = poly[(i + 1) % poly.length]!;
    const cross = x * y1 - x1 * y;
    a += cross;
    cx += (x + x1) * cross;
    cy += (y + y1) * cross;
  });
  a /= 2;
  return { area: Math.abs(a), gx: cx / (6 * a), gy: cy / (6 * a) };
}

/**
 * Pixels of a window [yLo, yHi) × [xLo, xHi) whose centres the outline, placed at centre (cx, cy)
 * with half-size s, holds (even-odd rule): [h'·w'], 1 inside. Row by row: the row's crossings
 * with the outline are found once (each edge from its first vertex, as the Python judge computes
 * them) and each pixel counts those right of it.
 */
function rasterise(outline: readonly Point[], cx: number, cy: number, s: number, xLo: number, xHi: number, yLo: number, yHi: number): Uint8Array {
  const w = xHi - xLo;
  const out = new Uint8Array(w * (yHi - yLo));
  const xs: number[] = [];
  for (let y = yLo; y < yHi; y++) {
    const v = (y + 0.5 - cy) / s;
    xs.length = 0;
    for (let i = 0; i < outline.length; i++) {
      const [xa, ya] = outline[i]!;
      const [xb, yb] = outline[(i + 1) % outline.length]!;
      if (ya > v !== yb > v) xs.push(xa + ((v - ya) * (xb - xa)) / (yb - ya));
    }
    if (xs.length === 0) continue;
    xs.sort((a, b) => a - b);
    let k = 0; // crossings at or left of the pixel centre
    for (let x = xLo; x < xHi; x++) {
      const u = (x + 0.5 - cx) / s;
      while (k < xs.length && xs[k]! <= u) k++;
      if ((xs.length - k) % 2 === 1) out[(y - yLo) * w + (x - xLo)] = 1;
    }
  }
  return out;
}

/**
 * IoU of a component with a shape's silhouette placed on it by moments: half-size s from the
 * areas (s = √(area / A_unit)), centre from the centroids, refined over s·{0.94, 1, 1.06} and
 * centre shifts of {-0.5, 0, 0.5} px; the silhouette is rasterised at pixel centres.
 */
export function silhouetteIou(comp: Component, outline: readonly Point[], width: number, height: number): number {
  const { x0, y0, x1, y1 } = comp.box;
  let mx = 0;
  let my = 0;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      if (comp.mask[y * width + x] !== 1) continue;
      mx += x;
      my += y;
    }
  }
  mx = mx / comp.area + 0.5; // centroid in pixel-centre coordinates
  my = my / comp.area + 0.5;
  const m = moments(outline);
  const s0 = Math.sqrt(comp.area / m.area);
  let best = 0;
  for (const k of SCALES) {
    const s = s0 * k;
    for (const dy of SHIFTS) {
      for (const dx of SHIFTS) {
        const cx = mx - s * m.gx + dx;
        const cy = my - s * m.gy + dy;
        // the pixels either may touch: the component's box and the silhouette's box
        const xLo = Math.max(0, Math.min(x0, Math.floor(cx - s) - 1));
        const xHi = Math.min(width, Math.max(x1 + 1, Math.ceil(cx + s) + 1));
        const yLo = Math.max(0, Math.min(y0, Math.floor(cy - s) - 1));
        const yHi = Math.min(height, Math.max(y1 + 1, Math.ceil(cy + s) + 1));
        const sil = rasterise(outline, cx, cy, s, xLo, xHi, yLo, yHi); // [h'·w']
        let inter = 0;
        let uni = 0;
        for (let y = yLo; y < yHi; y++) {
          for (let x = xLo; x < xHi; x++) {
            const a = sil[(y - yLo) * (xHi - xLo) + (x - xLo)] === 1;
            const b = comp.mask[y * width + x] === 1;
            if (a && b) inter++;
            if (a || b) uni++;
          }
        }
        best = Math.max(best, uni ? inter / uni : 0);
      }
    }
  }
  return best;
}

/** The shape whose placed silhouette overlaps the component best (the first in world order on ties), and that IoU. */
export function classifyShape(world: World, comp: Component, width: number, height: number): { shape: string; iou: number } {
  let best = { shape: '', iou: -1 };
  for (const [shape, poly] of world.outlines) {
    const iou = silhouetteIou(comp, poly, width, height);
    if (iou > best.iou) best = { shape, iou };
  }
  return best;
}

/** The strict test of a classification (classifyShape): `shape` won it, with IoU ≥ SHAPE_IOU. */
export function isStrictly(found: { readonly shape: string; readonly iou: number }, shape: string): boolean {
  return found.shape === shape && found.iou >= SHAPE_IOU;
}

/** The background colour by pixel vote, leaving out pixels where `exclude` is set. */
export function backgroundColour(world: World, labels: Labels, exclude?: Uint8Array): string {
  const votes = new Map<string, number>();
  const isBackground = new Set(world.backgroundColours);
  labels.index.forEach((k, i) => {
    if (exclude?.[i]) return;
    const ref = labels.refs[k]!;
    if (!isBackground.has(ref.colour)) return;
    votes.set(ref.colour, (votes.get(ref.colour) ?? 0) + 1);
  });
  let best = '';
  let most = -1;
  for (const [c, v] of votes) {
    if (v > most) {
      best = c;
      most = v;
    }
  }
  return best;
}
