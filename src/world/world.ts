/**
 * The scene world (scenes/world.json) as the benchmark and the calibration judge read it: the
 * palette, each background colour's pattern shade, and the shape outlines, expanded exactly as
 * python/flowedit_scenes expands them, so measurements use the renderer's own definitions.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export type Rgb = readonly [number, number, number];
export type Point = readonly [number, number];

interface ShapeSpec {
  readonly kind: 'polygon' | 'regular' | 'star';
  readonly vertices?: readonly Point[];
  readonly sides?: number;
  readonly rotation?: number;
  readonly points?: number;
  readonly inner?: number;
}

interface WorldFile {
  readonly colours: Record<string, [number, number, number]>;
  readonly objectColours: readonly string[];
  readonly backgroundColours: readonly string[];
  readonly shade: { readonly darken: number; readonly lighten: number; readonly lumaSplit: number };
  readonly shapes: Record<string, ShapeSpec>;
}

export interface World {
  readonly colours: ReadonlyMap<string, Rgb>;
  readonly objectColours: readonly string[];
  readonly backgroundColours: readonly string[];
  /** a background colour's second pattern colour */
  readonly shades: ReadonlyMap<string, Rgb>;
  /** shape name → polygon in the unit box [-1, 1]², y down */
  readonly outlines: ReadonlyMap<string, readonly Point[]>;
}

function shadeOf(c: Rgb, rule: WorldFile['shade']): Rgb {
  const luma = 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
  const f = (v: number) => (luma >= rule.lumaSplit ? v * rule.darken : v + (255 - v) * rule.lighten);
  return [f(c[0]), f(c[1]), f(c[2])];
}

function outlineOf(name: string, s: ShapeSpec): Point[] {
  const ring = (n: number, r: (i: number) => number, start: number): Point[] =>
    Array.from({ length: n }, (_, i) => {
      const a = start + (2 * Math.PI * i) / n;
      return [r(i) * Math.cos(a), r(i) * Math.sin(a)] as const;
    });
  const deg = Math.PI / 180;
  switch (s.kind) {
    case 'polygon':
      return (s.vertices ?? []).map((p) => [p[0], p[1]] as const);
    case 'regular':
      return ring(s.sides ?? 0, () => 1, (-90 + (s.rotation ?? 0)) * deg);
    case 'star':
      return ring(2 * (s.points ?? 0), (i) => (i % 2 === 0 ? 1 : (s.inner ?? 0.5)), -90 * deg);
  }
  throw new Error(`Shape '${name}' has unknown kind '${String((s as ShapeSpec).kind)}'`);
}

/** The world of the repository (or package) at `root`: its scenes/world.json. */
export function loadWorld(root: string): World {
  return readWorld(join(root, 'scenes', 'world.json'));
}

/** A world file (scenes/world.json's format). */
export function readWorld(file: string): World {
  const w = JSON.parse(readFileSync(file, 'utf8')) as WorldFile;
  const colours = new Map(Object.entries(w.colours).map(([k, v]) => [k, v as Rgb]));
  const shades = new Map(w.backgroundColours.map((k) => [k, shadeOf(colours.get(k)!, w.shade)]));
  const outlines = new Map(Object.entries(w.shapes).map(([k, s]) => [k, outlineOf(k, s)]));
  return { colours, objectColours: w.objectColours, backgroundColours: w.backgroundColours, shades, outlines };
}

/** Even-odd point-in-polygon test. */
export function inside(x: number, y: number, poly: readonly Point[]): boolean {
  let hit = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i]!;
    const [xj, yj] = poly[j]!;
    if (yi > y !== yj > y && x < xi + ((y - yi) * (xj - xi)) / (yj - yi)) hit = !hit;
  }
  return hit;
}
