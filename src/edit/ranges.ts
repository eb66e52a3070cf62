/**
 * The range of every number a user may set, one table for flags, presets and manifests: the CLI
 * states it in --help and checks the text typed against it, resolveSettings checks every route.
 * No imports, so --help loads nothing with it.
 */
/** The range a number a user gives must lie in: stated in --help, checked once for flags, presets and manifests. */
export interface NumberRange {
  readonly integer: boolean;
  readonly min: number;
  readonly max: number;
  /** min itself is outside the range */
  readonly minOpen?: boolean;
  /** max itself is outside the range */
  readonly maxOpen?: boolean;
}

/** Every number a user may set, by flag name (without the dashes). */
export const RANGES = {
  steps: { integer: true, min: 1, max: 1000 },
  guidance: { integer: false, min: 0, max: 100, minOpen: true },
  'share-steps': { integer: false, min: 0, max: 1 },
  /** -1: draw a seed at random (seeds.ts) */
  seed: { integer: true, min: -1, max: 2 ** 32 - 1 },
  variants: { integer: true, min: 1, max: 1000 },
  'mask-grow': { integer: false, min: 0, max: 1000 },
  'mask-feather': { integer: false, min: 0, max: 1000 },
  'mask-bias': { integer: false, min: -10000, max: 0 },
  'auto-mask': { integer: false, min: 0, max: 1, maxOpen: true },
  shift: { integer: false, min: 0, max: 100, minOpen: true },
  overlap: { integer: true, min: 0, max: 1000 },
  window: { integer: true, min: 1, max: 1000 },
  threads: { integer: true, min: 1, max: 256 },
  fps: { integer: false, min: 0, max: 240, minOpen: true },
  frames: { integer: true, min: 1, max: 1000 },
  width: { integer: true, min: 1, max: 16384 },
  height: { integer: true, min: 1, max: 16384 },
  concurrency: { integer: true, min: 1, max: 256 },
  cases: { integer: true, min: 1, max: 100000 },
  'top-k': { integer: true, min: 1, max: 1000 },
  'max-input-pixels': { integer: true, min: 1, max: 1_000_000_000 },
} as const satisfies Record<string, NumberRange>;

export type RangedName = keyof typeof RANGES;

/** "an integer from 1 to 1000", "a number in (0, 100]". */
export function describeRange(r: NumberRange): string {
  if (r.integer) return `an integer from ${r.min} to ${r.max}`;
  return `a number in ${r.minOpen ? '(' : '['}${r.min}, ${r.max}${r.maxOpen ? ')' : ']'}`;
}

/** Whether `v` is a number inside `r`. */
export function inRange(v: unknown, r: NumberRange): v is number {
  if (typeof v !== 'number' || !Number.isFinite(v)) return false;
  if (r.integer && !Number.isInteger(v)) return false;
  return (r.minOpen ? v > r.min : v >= r.min) && (r.maxOpen ? v < r.max : v <= r.max);
}

/**
 * Checks a number against its range; `shown` is what the user typed when known (a flag's own
 * text), else the value itself.
 */
export function checkRange(name: RangedName, v: unknown, shown: string = JSON.stringify(v) ?? String(v)): number {
  const r: NumberRange = RANGES[name];
  if (!inRange(v, r)) throw new Error(`Expected ${describeRange(r)} for --${name} but received ${shown}`);
  return v;
}
