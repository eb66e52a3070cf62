import { checkGenerate } from '../../edit/generate.js';
import { assertPromptsFit } from '../../edit/velocity.js';
import type { GlobalArgs, ModelArgs, NegativePromptArgs, OutputArgs, PresetArgs, ShiftArgs, SolverArgs, VideoArgs } from '../options.js';
import { runInWorker } from '../run-in-worker.js';
import { checkMediaOutput, checkVideoFlags, checkModelFlags, checkWriteTargets, jobExtras, printedConfig, reportDone, resolvePack, settingsFrom, userCheck } from './common.js';
import { UserError } from '../errors.js';

export interface GenerateArgs extends GlobalArgs, ModelArgs, SolverArgs, ShiftArgs, NegativePromptArgs, VideoArgs, PresetArgs, OutputArgs {
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
  const config = { command: 'generate', model: pack.manifest.id, ...request, fps: a.fps };
  if (printedConfig(a, config)) return;
  // 2. the output can be written (an MP4 needs ffmpeg)
  await checkWriteTargets({ outputs: [{ path: a.output, flag: '-o' }], inputs: [], force: a.force });
  await checkMediaOutput(a.output, a.frames > 1, a.ffmpeg);
  const summary = await runInWorker({ kind: 'generate', packDir: pack.dir, output: a.output, request, fps: a.fps, ...jobExtras(a, model) }, a);
  reportDone('wrote', summary, a, config);
}
