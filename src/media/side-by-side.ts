/**
 * Pictures side by side under a strip of labels (a source, its edit, the mask): one image, the
 * panels' pixels copied unchanged. Panels sit in a row, PANEL_GAP pixels apart, their tops on the
 * strip's lower edge; the labels are drawn as SVG text (renderSvg).
 */
import { renderSvg, type RgbImage } from './image.js';

export interface Panel {
  readonly image: RgbImage;
  readonly label: string;
}

/** Pixels between neighbouring panels. */
export const PANEL_GAP = 4;

/** The background: #202020 as a value in [-1, 1] (32 / 127.5 − 1). */
const BACKGROUND = 32 / 127.5 - 1;

/** Height of the label strip for panels `height` pixels high: 8 % of it, within 14–40 pixels. */
export function labelStripHeight(height: number): number {
  return Math.min(40, Math.max(14, Math.round(height * 0.08)));
}

const escapeXml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The labels as an SVG of the strip: each at its panel's left edge, shrunk to fit the panel's width (about 0.6 em a character). */
function labelSvg(panels: readonly Panel[], xs: readonly number[], width: number, strip: number): string {
  const texts = panels.map((p, i) => {
    const room = Math.max(1, p.image.width - 6);
    const size = Math.max(6, Math.min(strip * 0.7, room / (0.6 * Math.max(1, p.label.length))));
    return `<text x="${xs[i]! + 3}" y="${(strip + size * 0.7) / 2}" font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif" font-size="${size.toFixed(1)}" fill="#f0f0f0">${escapeXml(p.label)}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${strip}"><rect width="${width}" height="${strip}" fill="#202020"/>${texts.join('')}</svg>`;
}

/** Copies `src` into `dst` (planar [3, H, W]) with its top-left corner at (x, y). */
function blit(dst: RgbImage, src: RgbImage, x: number, y: number): void {
  const D = dst.width * dst.height;
  const S = src.width * src.height;
  for (let c = 0; c < 3; c++) {
    for (let row = 0; row < src.height; row++) {
      const from = c * S + row * src.width;
      dst.data.set(src.data.subarray(from, from + src.width), c * D + (y + row) * dst.width + x);
    }
  }
}

/**
 * The panels in a row under their labels: (Σ widths + PANEL_GAP·(n − 1)) × (strip + the tallest
 * panel's height), each panel's pixels unchanged at x = the widths and gaps before it, y = strip.
 */
export async function sideBySide(panels: readonly Panel[]): Promise<RgbImage> {
  if (panels.length === 0) throw new Error('sideBySide needs at least one panel');
  const xs: number[] = [];
  let width = 0;
  for (const p of panels) {
    xs.push(width);
    width += p.image.width + PANEL_GAP;
  }
  width -= PANEL_GAP;
  const tallest = Math.max(...panels.map((p) => p.image.height));
  const strip = labelStripHeight(tallest);
  const out: RgbImage = { width, height: strip + tallest, data: new Float32Array(3 * width * (strip + tallest)).fill(BACKGROUND) }; // [3, H, W]
  const labels = await renderSvg(labelSvg(panels, xs, width, strip));
  if (labels.width === width && labels.height === strip) blit(out, labels, 0, 0); // else (no SVG support) the strip stays plain
  panels.forEach((p, i) => blit(out, p.image, xs[i]!, strip));
  return out;
}
