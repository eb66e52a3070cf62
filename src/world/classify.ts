/**
 * Reading a rendered or generated frame back into the scene world's terms.
 *
 * Pixel labels: every pixel takes the nearest (Euclidean RGB) of the reference colours, which
 * are the palette's colours and the pattern shade of each background colour.
 * Objects: the pixels labelled with an object colour, restricted to a region if given, form
 * 4-connected components; the largest is the object. Its shape is the world shape whose
 * outline, stretched to the component's bounding box and rasterised at pixel centres, has the
 * highest intersection-over-union with it.
 * Background colour: each pixel labelled with a background colour or that colour's shade votes
 * for that colour; pixels under objects are left out; the most votes wins.
 */
import type { RgbImage } from '../media/image.js';
import { inside, type Rgb, type World } from './world.js';

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

/** One frame of a clip (or a still) as 0..255 RGB, pixel-interleaved: [H·W·3]. */
export function toBytes(img: RgbImage): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(3 * n);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < n; i++) out[3 * i + c] = ((img.data[c * n + i]! + 1) / 2) * 255;
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

/** The shape whose outline, stretched over the component's box, overlaps it best (IoU). */
export function classifyShape(world: World, comp: Component, width: number): { shape: string; iou: number } {
  const { x0, y0, x1, y1 } = comp.box;
  let best = { shape: '', iou: -1 };
  for (const [shape, poly] of world.outlines) {
    let minX = Infinity;
    let maxX = -Infinity;
    let minY = Infinity;
    let maxY = -Infinity;
    for (const [x, y] of poly) {
      minX = Math.min(minX, x);
      maxX = Math.max(maxX, x);
      minY = Math.min(minY, y);
      maxY = Math.max(maxY, y);
    }
    let inter = 0;
    let union = 0;
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        // pixel centre mapped into the outline's own bounding box
        const u = minX + ((x + 0.5 - x0) / (x1 + 1 - x0)) * (maxX - minX);
        const v = minY + ((y + 0.5 - y0) / (y1 + 1 - y0)) * (maxY - minY);
        const a = inside(u, v, poly);
        const b = comp.mask[y * width + x] === 1;
        if (a && b) inter++;
        if (a || b) union++;
      }
    }
    const iou = union ? inter / union : 0;
    if (iou > best.iou) best = { shape, iou };
  }
  return best;
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
