/** What the commands share on the command line: --print-config and batch's flag recipe. */
import { requestRecipe } from '../../jobs/checks.js';
import type { Recipe } from '../../jobs/recipe.js';
import type { EditArgs, MaskArgs, PresetArgs, ShiftArgs, SolverArgs } from '../options.js';

export { checkModelFlags, checkOutput, resolvePack, userCheck } from '../../jobs/checks.js';

/** The settings flags as a recipe (the top layer of the precedence). */
export function flagRecipe(a: Partial<SolverArgs & EditArgs & Pick<MaskArgs, 'mask-bias' | 'mask-grow' | 'mask-feather'> & ShiftArgs>): Recipe {
  return requestRecipe({
    steps: a.steps,
    solver: a.solver,
    fit: a.fit,
    seed: a.seed,
    shift: a.shift,
    guidance: a.guidance,
    guideAgainst: a['guide-against'],
    shareLayers: a['share-layers'],
    shareSteps: a['share-steps'],
    shareText: a['share-text'],
    autoMask: a['auto-mask'],
    maskBias: a['mask-bias'],
    maskGrow: a['mask-grow'],
    maskFeather: a['mask-feather'],
  });
}

/**
 * With --print-config, prints what a command would run with (as JSON on stdout) and returns true:
 * the caller then stops before any model loads.
 */
export function printedConfig(a: Partial<PresetArgs>, config: Record<string, unknown>): boolean {
  if (!a['print-config']) return false;
  process.stdout.write(`${JSON.stringify({ ...(a.preset !== undefined ? { preset: a.preset } : {}), ...config }, null, 2)}\n`);
  return true;
}

