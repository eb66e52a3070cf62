/** --seed -1 and --variants on the command line: the seed drawn is said on stderr, the variants' files are named and checked. */
import { RANDOM_SEED, variantsOf, type Variant } from '../edit/seeds.js';
import type { GlobalArgs, OutputArgs, SolverArgs, VariantsArgs } from './options.js';
import { userCheck } from './actions/common.js';

/**
 * The outputs a generate run writes: with --variants, one per consecutive seed from `seed` (the
 * resolved seed, drawn when --seed was -1), else none (the run writes -o). Says on stderr which
 * seed was drawn, unless --quiet.
 */
export async function seedRuns(a: GlobalArgs & OutputArgs & Pick<SolverArgs, 'seed'> & VariantsArgs, seed: number): Promise<Variant[] | undefined> {
  const runs = a.variants === undefined ? undefined : await userCheck(() => variantsOf(a.output, seed, a.variants!));
  if (a.seed === RANDOM_SEED && !a.quiet) {
    const which = runs && runs.length > 1 ? `seeds ${seed} to ${seed + runs.length - 1} (from --seed -1, drawn at random)` : `seed ${seed} (drawn at random for --seed -1)`;
    process.stderr.write(`flowedit: using ${which}\n`);
  }
  return runs;
}

/** The files a run writes, by the flag that names them: -o, or each variant's. */
export function runOutputs(a: OutputArgs, runs: readonly Variant[] | undefined): { path: string; flag: string }[] {
  return runs ? runs.map((r) => ({ path: r.output, flag: `--variants (seed ${r.seed})` })) : [{ path: a.output, flag: '-o' }];
}
