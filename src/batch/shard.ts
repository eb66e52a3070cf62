/**
 * Splitting a batch across machines without a queue: `--shard i/N` runs the items whose position
 * in the manifest p (1-based) has p ≡ i (mod N), so N machines given 1/N … N/N share one
 * manifest and one output folder and together make every output once. Each shard plans and checks
 * the whole manifest (every machine refuses the same bad manifest), and keeps its own lock and
 * report beside the others'.
 */

/** Shard i of N, 1 ≤ i ≤ N. */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** Reads "i/N" (as --shard takes it); a malformed or out-of-range value says what is expected. */
export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || !(count >= 1 && count <= 10_000) || !(index >= 1 && index <= count)) {
    throw new Error(`Expected --shard i/N with 1 ≤ i ≤ N ≤ 10000 (e.g. 2/3: the second of three machines) but received ${JSON.stringify(text)}`);
  }
  return { index, count };
}

/** Whether the item at `position` (1-based, in manifest order) belongs to the shard. */
export function inShard(position: number, shard: Shard): boolean {
  return (position - 1) % shard.count === shard.index - 1;
}

/** What the shard adds to its lock's and reports' names: "" for a whole batch, "-shard-2-of-3". */
export function shardSuffix(shard: Shard | undefined): string {
  return shard ? `-shard-${shard.index}-of-${shard.count}` : '';
}
