/** reconstruct: an inversion file back to pixels under its own prompt and solver. */
import { assertSameModel } from '../edit/frames/pipeline.js';
import { readInversionHeader } from '../edit/frames/inversion-file.js';
import { checkInput, checkMediaOutput, checkModelFlags, checkWriteTargets, jobExtras, presetFrom, resolvePack, userCheck } from './checks.js';
import { seedFor } from '../edit/frames/seeds.js';
import { UserError } from './errors.js';
import type { ConfigStop, Plan } from './plan.js';
import { checkRequest, type ReconstructRequest } from './request.js';

export function planReconstruct(r: ReconstructRequest): Promise<Plan>;
export function planReconstruct(r: ReconstructRequest, stop: ConfigStop): Promise<Plan | undefined>;
export async function planReconstruct(r: ReconstructRequest, stop?: ConfigStop): Promise<Plan | undefined> {
  checkRequest(r, ['input', 'output']);
  const model = checkModelFlags(r);
  const pack = await resolvePack(r);
  const { isInversion } = await checkInput(r.input);
  if (!isInversion) throw new UserError(`${r.input} is not an inversion file; create one with 'flowedit invert <image or clip> -o <file>.flowinv'`);
  const header = await userCheck(() => readInversionHeader(r.input));
  await userCheck(() => assertSameModel(pack, header));
  // an inversion fixes steps, solver and prompt: of a preset only the seed applies here
  const seed = seedFor(r.seed ?? (await presetFrom(r))?.recipe.seed ?? 0); // -1: drawn here, and recorded
  const { steps, solver, sourcePrompt } = header.settings;
  const config = { command: 'reconstruct', model: pack.manifest.id, sourcePrompt, settings: { steps, solver, seed } };
  if (stop?.(config)) return undefined;
  await checkWriteTargets({
    outputs: [{ path: r.output, flag: '-o' }],
    inputs: [
      { path: r.input, what: 'the input' },
      { path: header.source.path, what: "the inversion's source" },
    ],
    force: r.force ?? false,
  });
  await checkMediaOutput(r.output, header.clip !== undefined, r.ffmpeg);
  return { spec: { kind: 'reconstruct', packDir: pack.dir, input: r.input, output: r.output, seed, ...jobExtras(r, model) }, config };
}
