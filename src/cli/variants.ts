/** --seed -1 on the command line: the seed drawn is said on stderr (the output records it too). */
import { RANDOM_SEED } from '../edit/frames/seeds.js';
import type { GlobalArgs } from './options.js';

/** Says which seed (or, with --variants, which seeds) a run drew for --seed -1, unless --quiet. */
export function sayDrawnSeed(a: Pick<GlobalArgs, 'quiet'> & { readonly seed?: number | undefined }, seed: number, runs: number): void {
  if (a.seed !== RANDOM_SEED || a.quiet) return;
  const which = runs > 1 ? `seeds ${seed} to ${seed + runs - 1} (from --seed -1, drawn at random)` : `seed ${seed} (drawn at random for --seed -1)`;
  process.stderr.write(`flowedit: using ${which}\n`);
}
