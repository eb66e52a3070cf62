import { relative } from 'node:path';
import { assertEditable } from '../../edit/latent/edit.js';
import { assertWritable, writeFileAtomic } from '../../media/atomic-file.js';
import { taskSettings } from '../../vital/analysis.js';
import { builtinCalibration, defaultsKeyOf, isAnalysisTask, readCalibration, taskCases, type Calibration, type CalibrationCase } from '../../vital/calibration.js';
import { checkCases, loadCases, namesAnswers, type LoadedCalibrationCase } from '../../vital/calibration-media.js';
import type { LayerStudy, Trial } from '../../vital/study.js';
import { studyTask } from '../../vital/study-task.js';
import { assertPackWritable, writeLayerDefaults } from '../../vital/write.js';
import { assertSvgName, layersPlotSvg } from '../../vital/plot.js';
import type { LayerScores } from '../../vital/analysis.js';
import { readWorld, type World } from '../../world/world.js';
import { EXIT, UserError } from '../errors.js';
import type { GlobalArgs, InputLimitArgs, ModelArgs, SolverArgs, VideoArgs } from '../options.js';
import { progressLine } from '../progress-bar.js';
import { runTaskInWorker } from '../run-in-worker.js';
import { profileSink, type ProfileArgs } from '../profile.js';
import { checkModelFlags, resolvePack, userCheck } from './common.js';

export interface LayersArgs extends GlobalArgs, ModelArgs, SolverArgs, Pick<VideoArgs, 'ffmpeg'>, InputLimitArgs, ProfileArgs {
  task: string;
  calibration: string[] | undefined;
  cases: number | undefined;
  'top-k': number | undefined;
  'share-steps': number | undefined;
  sweep: boolean;
  write: boolean;
  'write-builtin': boolean;
  json: string | undefined;
  plot: string | undefined;
}

const fmt = (v: number | null, unit = ''): string => (v === null || Number.isNaN(v) ? '—' : `${v.toFixed(2)}${unit}`);
const pct = (v: number | null): string => (v === null ? '—' : `${Math.round(v * 100)}%`);
const shown = (p: string): string => relative(process.cwd(), p) || p;

function printTable(head: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: readonly string[]) => cells.map((v, c) => v.padStart(widths[c]!)).join('  ');
  process.stdout.write(`${line(head)}\n${rows.map(line).join('\n')}\n`);
}

function printRanking(all: readonly LayerScores[], names: readonly string[]): void {
  const first = all[0]!;
  const head = ['rank', 'layer', ...names.map((n) => `R (${n})`)];
  const rows = first.ranking.map((l, r) => [String(r + 1), String(l), ...all.map((s) => s.mean[s.layers.indexOf(l)]!.toFixed(4))]);
  printTable(head, rows);
}

function printTrials(trials: readonly Trial[], answers: boolean): void {
  const judged = answers ? ['object right', 'colour in place', 'PSNR vs truth'] : [];
  printTable(
    ['setting', 'k', 'layers', 'τ', ...judged, 'background PSNR', 'inside PSNR'],
    trials.map((t) => [
      t.name,
      String(t.k),
      t.layers.join(',') || '—',
      t.fraction.toFixed(2),
      ...(answers ? [pct(t.score.right), pct(t.score.placed), fmt(t.score.psnrTruth, ' dB')] : []),
      fmt(t.score.psnrBackground, ' dB'),
      fmt(t.score.psnrInside, ' dB'),
    ]),
  );
}

/** The cases' media in one line each: what the analysis runs (a clip's first window). */
function printCases(cases: readonly LoadedCalibrationCase[]): void {
  for (const c of cases) {
    const f = c.frames[0]!;
    const what = c.clip ? `clip, frames 1–${c.clip.used} of ${c.clip.total}` : 'still';
    process.stdout.write(`  ${c.id}: ${what}, ${f.width}×${f.height}${c.region ? '' : ', no mask'}\n`);
  }
}

function printStudy(s: LayerStudy, packId: string, names: readonly string[], sets: readonly (readonly LoadedCalibrationCase[])[], first: Calibration, seconds: string): void {
  const { task, settings: base } = s;
  process.stdout.write(`Guidance responsiveness of ${packId}'s layers for ${task} (${sets.map((c) => c.length).join(' + ')} edits, probe steps ${s.scores[0]!.probes.join(', ')} of ${base.steps}):\n`);
  if (sets[0]!.some((c) => c.clip)) printCases(sets[0]!);
  printRanking(s.scores, names);
  s.correlations.forEach((rho, i) => process.stdout.write(`rank correlation (Spearman ρ) of ${names[0]} and ${names[i + 1]}: ${rho.toFixed(3)}\n`));
  const note = s.answers ? '' : '; no right answers (expected images or scene-world checks), so only what each keeps of the source is measured';
  process.stdout.write(`\n${task} on ${shown(first.file)} (${sets[0]!.length} edits${note}):\n`);
  printTrials(s.trials, s.answers);
  if (s.sweep.length) {
    process.stdout.write(`\nSweep (top-k layers by responsiveness × τ):\n`);
    printTrials(s.sweep, s.answers);
    if (!s.answers) process.stdout.write('the sweep chooses nothing without right answers: read the table, or give entries expected images\n');
  }
  const how = s.pickedBy === 'sweep' ? 'the sweep\'s best against the answers' : `the ${s.pick.k} most responsive layer${s.pick.k === 1 ? '' : 's'}, the task's τ`;
  process.stdout.write(`\nchosen for ${task}: layers ${s.pick.layers.join(',')}, τ ${s.pick.fraction} (${how}; ${seconds} s)\n`);
}

export async function layersAction(a: LayersArgs): Promise<void> {
  // 1. everything is checked before the model loads: flags, pack, settings, where --write writes
  const model = checkModelFlags(a);
  const task = a.task;
  if (!isAnalysisTask(task)) throw new UserError(`Unknown task "${task}": choose swap, recolor, insert, remove or text-edit`);
  if (a.cases !== undefined && !(Number.isInteger(a.cases) && a.cases > 0)) throw new UserError(`Expected a positive integer for --cases but received ${a.cases}`);
  if (a['write-builtin'] && !a.write) throw new UserError('--write-builtin only allows --write into the built-in pack: add --write, or leave it out', EXIT.usage);
  const info = await resolvePack(a);
  await userCheck(() => assertEditable(info));
  const options = { steps: a.steps, solver: a.solver, fit: a.fit, shareSteps: a['share-steps'] };
  const base = await userCheck(() => taskSettings(info.manifest, task, options));
  // the key the task's runs read, and --write writes (an automatic-mask edit has its own)
  const key = defaultsKeyOf(task, base.autoMask);
  const L = info.manifest.transformer.contextLayers.length;
  const k = a['top-k'] ?? Math.ceil(L / 2);
  if (!(Number.isInteger(k) && k >= 1 && k <= L)) throw new UserError(`Expected an integer from 1 to ${L} (the pack's shareable layers) for --top-k but received ${k}`);
  if (a.write) await userCheck(() => assertPackWritable(info.dir, { allowBuiltin: a['write-builtin'] }));
  if (a.json) await userCheck(() => assertWritable(a.json!));
  if (a.plot) await userCheck(() => (assertSvgName(a.plot!), assertWritable(a.plot!)));

  // 2. the calibration sets (files or folders): the task's cases, their media and prompts checked against the pack
  const files = a.calibration ?? [builtinCalibration(0), builtinCalibration(1)];
  const cals = await userCheck(() => Promise.all(files.map((f) => readCalibration(f))));
  const chosen: CalibrationCase[][] = await userCheck(() => cals.map((c) => taskCases(c, task, a.cases)));
  const media = { ...(a.ffmpeg ? { ffmpeg: a.ffmpeg } : {}), maxInputPixels: a['max-input-pixels'] };
  for (const [i, cal] of cals.entries()) await userCheck(() => checkCases(cal, chosen[i]!, task, info, base, media));
  const world: World | null = cals[0]!.world ? readWorld(cals[0]!.world) : null;
  if (a.sweep && a.write && !namesAnswers(chosen[0]!, world !== null)) {
    throw new UserError(
      `--sweep --write picks the setting that gets the calibration's right answers, but ${shown(cals[0]!.file)}'s ${task} edits carry none (expected images or scene-world checks): ` +
        'drop --sweep to write the most responsive layers with the task\'s τ, or give the entries expected images',
      EXIT.usage,
    );
  }
  const warn = (m: string) => process.stderr.write(`flowedit: warning: ${m}\n`);
  const sets: LoadedCalibrationCase[][] = [];
  for (const [i, cal] of cals.entries()) sets.push(await userCheck(() => loadCases(cal, chosen[i]!, info.manifest, base.fit, { ...media, onWarning: warn })));

  // 3. the study: ranking, trials and the sweep, on an inference worker (Ctrl-C cancels it)
  const bar = progressLine(process.stderr, a.quiet);
  const t0 = performance.now();
  const seconds = () => ((performance.now() - t0) / 1000).toFixed(1);
  const current = info.manifest.defaults?.tasks?.[key]?.shareLayers;
  const input = { packDir: info.dir, ...model, sets, task, base, options: { k, sweep: a.sweep, world, current, options } };
  const profile = profileSink(a.profile);
  const study = await runTaskInWorker(studyTask, input, { onProgress: (p) => bar.update(p.stage, p.step, p.steps), onWarning: warn, notice: (t) => bar.notice(t), outputs: [], onProfile: profile.onProfile }).finally(() => bar.done());
  const names = files.map((_, i) => (a.calibration ? `set ${i + 1}` : `seed ${i}`));
  printStudy(study, info.manifest.id, names, sets, cals[0]!, seconds());

  // 4. outputs
  const pick = study.pick;
  if (a.plot) await writeFileAtomic(a.plot, Buffer.from(layersPlotSvg(study, { pack: info.manifest.id, sets: names })));
  if (a.json) {
    const trialDoc = ({ score, ...t }: Trial) => ({ ...t, right: score.right, placed: score.placed, psnrTruth: score.psnrTruth, psnrBackground: score.psnrBackground, psnrInside: score.psnrInside });
    const doc = {
      pack: info.manifest.id,
      task,
      settings: { steps: base.steps, solver: base.solver, guidance: base.guidance, guideAgainst: base.guideAgainst, shareSteps: base.shareSteps, maskBias: base.maskBias, autoMask: base.autoMask },
      calibration: cals.map((c) => shown(c.file)),
      cases: sets[0]!.map((c) => ({ id: c.id, frames: c.frames.length, ...(c.clip ? { clipFrames: c.clip.total } : {}), width: c.frames[0]!.width, height: c.frames[0]!.height, mask: c.region !== null })),
      answers: study.answers,
      scores: study.scores.map((s) => ({ layers: s.layers, mean: s.mean, perCase: s.perCase, ranking: s.ranking, probes: s.probes, calls: s.calls })),
      rankCorrelation: study.correlations,
      trials: study.trials.map((t) => ({ ...trialDoc(t), cases: t.score.cases })),
      sweep: study.sweep.map(trialDoc),
      chosen: { shareLayers: pick.layers, shareSteps: pick.fraction, by: study.pickedBy },
      seconds: Number(seconds()),
    };
    await writeFileAtomic(a.json, Buffer.from(`${JSON.stringify(doc, null, 1)}\n`));
  }
  if (a.write) {
    if (pick.layers.length === 0) throw new UserError('The best setting shares no layers; nothing written (a task default needs at least one layer)');
    const w = await userCheck(() => writeLayerDefaults(info.dir, key, { shareLayers: pick.layers, shareSteps: pick.fraction }, { allowBuiltin: a['write-builtin'] }));
    const was = w.before.shareLayers !== undefined || w.before.shareSteps !== undefined ? `was shareLayers [${w.before.shareLayers?.join(', ') ?? 'unset'}], shareSteps ${w.before.shareSteps ?? 'unset'}` : 'the task had no sharing of its own';
    process.stdout.write(`wrote defaults.tasks.${key}: shareLayers [${w.after.shareLayers.join(', ')}], shareSteps ${w.after.shareSteps} to ${w.path} (${was}; every other field kept)\n`);
    if (w.copyOf) {
      const m = w.copyOf.made;
      const weights = m ? (m.unlinked.length === 0 ? 'linked' : m.linked.length === 0 ? 'copied' : `linked, ${m.unlinked.join(', ')} copied`) : '';
      const made = m ? `made now from the built-in pack ${w.copyOf.builtin}, its weights ${weights}` : 'made by an earlier --write';
      process.stdout.write(`that is your copy of the built-in pack (${made}); the built-in pack is unchanged: use the copy with --model ${w.copyOf.id}\n`);
    }
  }
  await profile.finish();
}
