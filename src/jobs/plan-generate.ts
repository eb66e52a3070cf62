/** generate: text to a still or a clip with the model alone. */
import { checkGenerate } from '../edit/frames/generate.js';
import { assertPromptsFit } from '../edit/latent/velocity.js';
import { checkMediaOutput, checkModelFlags, checkVideoFlags, checkWriteTargets, jobExtras, resolvePack, settingsFrom, userCheck } from './checks.js';
import { variantsOf } from '../edit/frames/seeds.js';
import { UserError } from './errors.js';
import type { ConfigStop, Plan } from './plan.js';
import { checkRequest, type GenerateRequest } from './request.js';

export function planGenerate(r: GenerateRequest): Promise<Plan>;
export function planGenerate(r: GenerateRequest, stop: ConfigStop): Promise<Plan | undefined>;
export async function planGenerate(r: GenerateRequest, stop?: ConfigStop): Promise<Plan | undefined> {
  checkRequest(r, ['output']);
  const prompt = r.prompt ?? '';
  const frames = r.frames ?? 1;
  const fps = r.fps ?? 8;
  // 1. settings, pack and request, checked before any model loads
  const model = checkModelFlags(r);
  checkVideoFlags(r);
  const pack = await resolvePack(r);
  const settings = await settingsFrom(pack, 'generate', r);
  const [defaultW, defaultH] = pack.manifest.image.defaultSize ?? [pack.manifest.image.multiple * 8, pack.manifest.image.multiple * 8];
  const request = {
    prompt,
    ...(settings.negativePrompt !== undefined ? { negativePrompt: settings.negativePrompt } : {}),
    guidance: settings.guidance,
    solver: settings.solver,
    steps: settings.steps,
    ...(settings.shift !== undefined ? { shift: settings.shift } : {}),
    seed: settings.seed,
    width: r.width ?? defaultW,
    height: r.height ?? defaultH,
    frames,
  };
  await userCheck(() => checkGenerate(pack, request));
  const negative = settings.negativePrompt;
  await userCheck(() => assertPromptsFit(pack, [{ text: prompt, what: '--prompt' }, ...(negative !== undefined ? [{ text: negative, what: '--negative-prompt' }] : [])]));
  if (!(Number.isFinite(fps) && fps > 0 && fps <= 240)) throw new UserError(`Expected a frame rate in (0, 240] for --fps but received ${fps}`);
  const variants = r.variants === undefined ? undefined : await userCheck(() => variantsOf(r.output, settings.seed, r.variants!));
  const config = { command: 'generate', model: pack.manifest.id, ...request, fps, ...(variants ? { variants } : {}) };
  if (stop?.(config)) return undefined;
  // 2. the outputs can be written (an MP4 needs ffmpeg)
  const outputs = variants ? variants.map((v) => ({ path: v.output, flag: `--variants (seed ${v.seed})` })) : [{ path: r.output, flag: '-o' }];
  await checkWriteTargets({ outputs, inputs: [], force: r.force ?? false });
  for (const o of outputs) await checkMediaOutput(o.path, frames > 1, r.ffmpeg);
  return { spec: { kind: 'generate', packDir: pack.dir, output: r.output, request, fps, ...(variants ? { variants } : {}), ...jobExtras(r, model) }, config };
}
