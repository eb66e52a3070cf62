/**
 * The benchmark's held-out scenes (scenes/heldout, written by python/make_benchmark.py):
 * index.json plus PNGs; a clip's frames are stacked top to bottom in one PNG.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readImage, type RgbImage } from '../../src/media/image.js';

export interface SceneObject {
  readonly colour: string;
  readonly shape: string;
  /** centre per frame, pixels */
  readonly centres: readonly (readonly [number, number])[];
}

export interface Case {
  readonly id: string;
  readonly kind: 'still' | 'clip';
  readonly frames: number;
  readonly size: readonly [number, number];
  readonly caption: string;
  readonly targetCaption: string;
  readonly edit: { readonly kind: 'shape' | 'colour'; readonly object: number; readonly from: string; readonly to: string };
  readonly target: SceneObject;
  readonly objects: readonly SceneObject[];
  readonly background: string;
}

export interface LoadedCase extends Case {
  readonly source: RgbImage[];
  readonly truth: RgbImage[];
  /** coverage of the edited object in the source, per frame (grayscale as RGB) */
  readonly sourceMask: RgbImage[];
  readonly truthMask: RgbImage[];
}

export function heldoutDir(root: string): string {
  return join(root, 'scenes', 'heldout');
}

/** The cases of a held-out folder (its index.json): the committed one is heldoutDir(ROOT). */
export function readIndex(dir: string): Case[] {
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { cases: Case[] };
  return index.cases;
}

/** Splits a strip [3, F·H, W] into F frames of height h. */
export function splitFrames(strip: RgbImage, frames: number): RgbImage[] {
  const h = strip.height / frames;
  const w = strip.width;
  const plane = strip.width * strip.height;
  return Array.from({ length: frames }, (_, f) => {
    const data = new Float32Array(3 * w * h);
    for (let c = 0; c < 3; c++) data.set(strip.data.subarray(c * plane + f * w * h, c * plane + (f + 1) * w * h), c * w * h);
    return { width: w, height: h, data };
  });
}

export async function loadCase(dir: string, c: Case): Promise<LoadedCase> {
  const read = async (suffix: string) => splitFrames(await readImage(join(dir, `${c.id}${suffix}.png`)), c.frames);
  return { ...c, source: await read(''), truth: await read('-edit'), sourceMask: await read('-mask'), truthMask: await read('-edit-mask') };
}
