/**
 * Number ranges: how a range is stated ("an integer from 1 to 1000") and whether a value lies in
 * it. The ranges themselves are in the table of settings (table.ts). No imports.
 */
/** The range a number a user gives must lie in: stated in --help, checked for flags, presets, manifests and packs. */
export interface NumberRange {
  readonly integer: boolean;
  readonly min: number;
  readonly max: number;
  /** min itself is outside the range */
  readonly minOpen?: boolean;
  /** max itself is outside the range */
  readonly maxOpen?: boolean;
}

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
