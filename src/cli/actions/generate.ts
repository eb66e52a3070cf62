import { checkGenerate } from '../../edit/generate.js';
import { assertPromptsFit } from '../../edit/velocity.js';
import type { GlobalArgs, ModelArgs, NegativePromptArgs, OutputArgs, PresetArgs, ShiftArgs, SolverArgs, VariantsArgs, VideoArgs } from '../options.js';
import { runOutputs, seedRuns } from '../variants.js';
import { runInWorker } from '../run-in-worker.js';
import { checkMediaOutput, checkVideoFlags, checkModelFlags, checkWriteTargets, jobExtras, printedConfig, reportDone, resolvePack, settingsFrom, userCheck } from './common.js';
import { UserError } from '../errors.js';

export interface GenerateArgs extends GlobalArgs, ModelArgs, SolverArgs, ShiftArgs, NegativePromptArgs, VideoArgs, PresetArgs, OutputArgs, VariantsArgs {
  prompt: string;
  frames: number;
  fps: number;
  width: number | undefined;
  height: number | undefined;
  guidance: number | undefined;
}

export async function generateAction(a: GenerateArgs): Promise<void> {
  // 1. settings, pack and request, checked before any model loads
  const model = checkModelFlags(a);
  checkVideoFlags(a);
  const pack = await resolvePack(a);
  const settings = await settingsFrom(pack, 'generate', a);
  const [defaultW, defaultH] = pack.manifest.image.defaultSize ?? [pack.manifest.image.multiple * 8, pack.manifest.image.multiple * 8];
  const request = {
    prompt: a.prompt,
    ...(settings.negativePrompt !== undefined ? { negativePrompt: settings.negativePrompt } : {}),
    guidance: settings.guidance,
    solver: settings.solver,
    steps: settings.steps,
    ...(settings.shift !== undefined ? { shift: settings.shift } : {}),
    seed: settings.seed,
    width: a.width ?? defaultW,
    height: a.height ?? defaultH,
    frames: a.frames,
  };
  await userCheck(() => checkGenerate(pack, request));
  const negative = settings.negativePrompt;
  await userCheck(() => assertPromptsFit(pack, [{ text: a.prompt, what: '--prompt' }, ...(negative !== undefined ? [{ text: negative, what: '--negative-prompt' }] : [])]));
  if (!(Number.isFinite(a.fps) && a.fps > 0 && a.fps <= 240)) throw new UserError(`Expected a frame rate in (0, 240] for --fps but received ${a.fps}`);
  const variants = await seedRuns(a, settings.seed);
  if (printedConfig(a, { command: 'generate', model: pack.manifest.id, ...request, fps: a.fps, ...(variants ? { variants } : {}) })) return;
  // 2. the outputs can be written (an MP4 needs ffmpeg)
  await checkWriteTargets({ outputs: runOutputs(a, variants), inputs: [], force: a.force });
  for (const o of runOutputs(a, variants)) await checkMediaOutput(o.path, a.frames > 1, a.ffmpeg);
  const summary = await runInWorker({ kind: 'generate', packDir: pack.dir, output: a.output, request, fps: a.fps, ...(variants ? { variants } : {}), ...jobExtras(a, model) }, a);
  reportDone('wrote', variants ? { ...summary, output: variants.map((v) => v.output).join(', ') } : summary, a.quiet);
}
