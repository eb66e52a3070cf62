import { UserError } from '../errors.js';
import type { GlobalArgs, ModelArgs, OutputArgs, PresetArgs, VideoArgs } from '../options.js';
import { runInWorker } from '../run-in-worker.js';
import { checkCompare, compareTarget, writeCompare, type CompareArgs } from '../compare.js';
import { assertSameModel } from '../../edit/image-jobs.js';
import { readInversionHeader } from '../../edit/inversion-file.js';
import { checkInput, checkMediaOutput, checkWriteTargets, checkModelFlags, jobExtras, presetFrom, printedConfig, reportDone, resolvePack, userCheck } from './common.js';

export interface ReconstructArgs extends GlobalArgs, ModelArgs, Pick<VideoArgs, 'ffmpeg'>, PresetArgs, OutputArgs, CompareArgs {
  inversion: string;
  seed: number | undefined;
}

export async function reconstructAction(a: ReconstructArgs): Promise<void> {
  const model = checkModelFlags(a);
  if (a.seed !== undefined && !(Number.isInteger(a.seed) && a.seed >= 0)) throw new UserError(`Expected a non-negative integer for --seed but received ${a.seed}`);
  const pack = await resolvePack(a);
  const { isInversion } = await checkInput(a.inversion);
  if (!isInversion) throw new UserError(`${a.inversion} is not an inversion file; create one with 'flowedit invert <image or clip> -o <file>.flowinv'`);
  const header = await userCheck(() => readInversionHeader(a.inversion));
  await userCheck(() => assertSameModel(pack, header));
  // an inversion fixes steps, solver and prompt: of a preset only the seed applies here
  const seed = a.seed ?? (await presetFrom(a))?.recipe.seed ?? 0;
  const { steps, solver, sourcePrompt } = header.settings;
  if (printedConfig(a, { command: 'reconstruct', model: pack.manifest.id, sourcePrompt, settings: { steps, solver, seed } })) return;
  await checkWriteTargets({
    outputs: [{ path: a.output, flag: '-o' }, ...compareTarget(a)],
    inputs: [
      { path: a.inversion, what: 'the input' },
      { path: header.source.path, what: "the inversion's source" },
    ],
    force: a.force,
  });
  await checkMediaOutput(a.output, header.clip !== undefined, a.ffmpeg);
  await checkCompare(a, header.source.path);
  const summary = await runInWorker(
    { kind: 'reconstruct', packDir: pack.dir, input: a.inversion, output: a.output, seed, ...jobExtras(a, model) },
    a,
  );
  reportDone('wrote', summary, a.quiet);
  await writeCompare(a, { source: header.source.path, result: a.output, label: 'reconstruction' });
}
