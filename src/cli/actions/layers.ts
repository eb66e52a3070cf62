import { join, relative } from 'node:path';
import { assertEditable } from '../../edit/edit.js';
import { assertPromptsFit } from '../../edit/velocity.js';
import type { Settings } from '../../edit/settings.js';
import { assertWritable, writeFileAtomic } from '../../media/atomic-file.js';
import { loadPack, MANIFEST_FILE, type LoadedPack } from '../../model/pack.js';
import { writeTaskSharing } from '../../model/task-defaults.js';
import { invertCases, scoreLayers, scoreSetting, spearman, taskSettings, topLayers, type InvertedCase, type LayerScores, type SettingScore } from '../../vital/analysis.js';
import { builtinCalibration, defaultsKeyOf, isAnalysisTask, loadTaskCases, readCalibration, type LoadedCalibrationCase } from '../../vital/calibration.js';
import { readWorld, type World } from '../../world/world.js';
import { UserError } from '../errors.js';
import type { GlobalArgs, ModelArgs, SolverArgs } from '../options.js';
import { progressLine } from '../progress-bar.js';
import { checkThreads, resolvePack, userCheck } from './common.js';

export interface LayersArgs extends GlobalArgs, ModelArgs, SolverArgs {
  task: string;
  calibration: string[] | undefined;
  cases: number | undefined;
  'top-k': number | undefined;
  'share-steps': number | undefined;
  sweep: boolean;
  write: boolean;
  json: string | undefined;
}

/** τ values the sweep tries (with the task's own). */
const SWEEP_FRACTIONS = [0.2, 0.5, 1.0];

interface Trial {
  readonly name: string;
  readonly k: number;
  readonly layers: readonly number[];
  readonly fraction: number;
  readonly score: SettingScore;
}

const fmt = (v: number | null, unit = ''): string => (v === null || Number.isNaN(v) ? '—' : `${v.toFixed(2)}${unit}`);
const pct = (v: number | null): string => (v === null ? '—' : `${Math.round(v * 100)}%`);

function printRanking(all: readonly LayerScores[], names: readonly string[]): void {
  const first = all[0]!;
  const head = ['rank', 'layer', ...names.map((n) => `R (${n})`)];
  const rows = first.ranking.map((l, r) => [String(r + 1), String(l), ...all.map((s) => s.mean[s.layers.indexOf(l)]!.toFixed(4))]);
  printTable(head, rows);
}

function printTable(head: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: readonly string[]) => cells.map((v, c) => v.padStart(widths[c]!)).join('  ');
  process.stdout.write(`${line(head)}\n${rows.map(line).join('\n')}\n`);
}

function printTrials(trials: readonly Trial[]): void {
  printTable(
    ['setting', 'k', 'layers', 'τ', 'object right', 'colour in place', 'PSNR vs truth', 'background PSNR'],
    trials.map((t) => [t.name, String(t.k), t.layers.join(',') || '—', t.fraction.toFixed(2), pct(t.score.right), pct(t.score.placed), fmt(t.score.psnrTruth, ' dB'), fmt(t.score.psnrBackground, ' dB')]),
  );
}

/**
 * Best trial: most objects right, then most colours in place, then closest to the ground truth,
 * then the background kept best.
 */
function best(trials: readonly Trial[]): Trial {
  const by = (t: Trial) => [t.score.right ?? 0, t.score.placed ?? 0, t.score.psnrTruth ?? 0, t.score.psnrBackground];
  return [...trials].sort((a, b) => {
    const [x, y] = [by(a), by(b)];
    return y[0]! - x[0]! || y[1]! - x[1]! || y[2]! - x[2]! || y[3]! - x[3]!;
  })[0]!;
}

export async function layersAction(a: LayersArgs): Promise<void> {
  // 1. everything is checked before the model loads
  const threads = checkThreads(a);
  const task = a.task;
  if (!isAnalysisTask(task)) throw new UserError(`Unknown task "${task}": choose swap, recolor, insert, remove or text-edit`);
  if (a.cases !== undefined && !(Number.isInteger(a.cases) && a.cases > 0)) throw new UserError(`Expected a positive integer for --cases but received ${a.cases}`);
  const info = await resolvePack(a);
  await userCheck(() => assertEditable(info));
  const options = { steps: a.steps, solver: a.solver, fit: a.fit, shareSteps: a['share-steps'] };
  const base = await userCheck(() => taskSettings(info.manifest, task, options));
  // the key the task's runs read, and --write writes (an automatic-mask edit has its own)
  const key = defaultsKeyOf(task, base.autoMask);
  const L = info.manifest.transformer.contextLayers.length;
  const k = a['top-k'] ?? Math.ceil(L / 2);
  if (!(Number.isInteger(k) && k >= 1 && k <= L)) throw new UserError(`Expected an integer from 1 to ${L} (the pack's shareable layers) for --top-k but received ${k}`);
  const files = a.calibration ?? [builtinCalibration(0), builtinCalibration(1)];
  const cals = await userCheck(() => Promise.all(files.map((f) => readCalibration(f))));
  const prompts = cals.flatMap((c) => c.cases.filter((lc) => lc.task === task).flatMap((lc) => [
    { text: lc.sourcePrompt, what: `the source prompt of ${lc.id} in ${c.file}` },
    { text: lc.targetPrompt, what: `the target prompt of ${lc.id} in ${c.file}` },
  ]));
  await userCheck(() => assertPromptsFit(info, prompts));
  if (a.json) await userCheck(() => assertWritable(a.json!));
  if (a.write) await userCheck(() => assertWritable(join(info.dir, MANIFEST_FILE)));

  // 2. the pack and the task's calibration edits
  const pack: LoadedPack = await loadPack(info.dir, threads ? { threads } : {});
  const loaded: LoadedCalibrationCase[][] = [];
  for (const cal of cals) loaded.push(await userCheck(() => loadTaskCases(cal, task, a.cases)));
  const world: World | null = cals[0]!.world ? readWorld(cals[0]!.world) : null;
  const bar = progressLine(process.stderr, a.quiet);
  const t0 = performance.now();
  const seconds = () => ((performance.now() - t0) / 1000).toFixed(1);

  // 3. every layer's responsiveness, on each calibration file (each edit inverted once, for everything below)
  const sets: InvertedCase[][] = [];
  const scores: LayerScores[] = [];
  for (const [i, cases] of loaded.entries()) {
    sets.push(await invertCases(pack, cases, base, { onProgress: (p) => bar.update(`inverting ${i + 1}/${loaded.length}`, p.step, p.steps) }));
    scores.push(await scoreLayers(pack, sets[i]!, task, base, { onProgress: (p) => bar.update(`scoring ${i + 1}/${loaded.length}`, p.step, p.steps) }));
  }
  bar.done();
  const names = files.map((f, i) => (a.calibration ? `set ${i + 1}` : `seed ${i}`));
  process.stdout.write(`Guidance responsiveness of ${pack.manifest.id}'s layers for ${task} (${sets.map((s) => s.length).join(' + ')} edits, probe steps ${scores[0]!.probes.join(', ')} of ${base.steps}):\n`);
  printRanking(scores, names);
  const correlations = scores.slice(1).map((s) => spearman(scores[0]!.mean, s.mean));
  correlations.forEach((rho, i) => process.stdout.write(`rank correlation (Spearman ρ) of ${names[0]} and ${names[i + 1]}: ${rho.toFixed(3)}\n`));

  // 4. the chosen set against all layers and no sharing, as the task runs, on the first calibration file
  const cases = sets[0]!;
  const trialOf = async (name: string, layers: readonly number[], fraction: number): Promise<Trial> => {
    const st: Settings = taskSettings(pack.manifest, task, { ...options, shareLayers: layers.length ? layers : pack.transformer.contextLayers, shareSteps: layers.length ? fraction : 0 });
    const score = await scoreSetting(pack, cases, task, st, world);
    bar.update(`running ${name}`, 1, 1);
    return { name, k: layers.length, layers, fraction: layers.length ? fraction : 0, score };
  };
  const tau = base.shareSteps;
  const chosen = topLayers(scores[0]!.ranking, k);
  const trials: Trial[] = [await trialOf(`top ${k}`, chosen, tau), await trialOf('all layers', pack.transformer.contextLayers, tau), await trialOf('no sharing', [], tau)];
  const current = info.manifest.defaults?.tasks?.[key]?.shareLayers;
  if (current && current.join() !== chosen.join()) trials.push(await trialOf('pack default', current, tau));
  bar.done();
  process.stdout.write(`\n${task} on ${relative(process.cwd(), cals[0]!.file) || cals[0]!.file} (${cases.length} edits${world ? '' : '; no world file, so objects are not judged'}):\n`);
  printTrials(trials);

  // 5. the sweep over k and τ
  const sweep: Trial[] = [];
  if (a.sweep) {
    const ks = [...new Set([1, 2, 4, 8, 16, 32].filter((n) => n < L).concat(L))];
    const fractions = [...new Set([...SWEEP_FRACTIONS, tau])].sort((x, y) => x - y);
    for (const kk of ks) for (const f of fractions) sweep.push(await trialOf(`k ${kk}, τ ${f}`, topLayers(scores[0]!.ranking, kk), f));
    bar.done();
    process.stdout.write(`\nSweep (top-k layers by responsiveness × τ):\n`);
    printTrials(sweep);
  }
  const pick = a.sweep ? best(sweep) : trials[0]!;
  process.stdout.write(`\nchosen for ${task}: layers ${pick.layers.join(',')}, τ ${pick.fraction} (${seconds()} s)\n`);

  // 6. outputs
  if (a.json) {
    const doc = {
      pack: pack.manifest.id,
      task,
      settings: { steps: base.steps, solver: base.solver, guidance: base.guidance, guideAgainst: base.guideAgainst, shareSteps: tau, maskBias: base.maskBias, autoMask: base.autoMask },
      calibration: files.map((f) => relative(process.cwd(), f) || f),
      scores: scores.map((s) => ({ layers: s.layers, mean: s.mean, perCase: s.perCase, ranking: s.ranking, probes: s.probes, calls: s.calls })),
      rankCorrelation: correlations,
      trials: trials.map(({ score, ...t }) => ({ ...t, right: score.right, placed: score.placed, psnrTruth: score.psnrTruth, psnrBackground: score.psnrBackground, cases: score.cases })),
      sweep: sweep.map(({ score, ...t }) => ({ ...t, right: score.right, placed: score.placed, psnrTruth: score.psnrTruth, psnrBackground: score.psnrBackground })),
      chosen: { shareLayers: pick.layers, shareSteps: pick.fraction },
      seconds: Number(seconds()),
    };
    await writeFileAtomic(a.json, Buffer.from(`${JSON.stringify(doc, null, 1)}\n`));
  }
  if (a.write) {
    if (pick.layers.length === 0) throw new UserError('The best setting shares no layers; nothing written (a task default needs at least one layer)');
    const path = await userCheck(() => writeTaskSharing(pack.dir, key, { shareLayers: pick.layers, shareSteps: pick.fraction }));
    process.stdout.write(`wrote defaults.tasks.${key}: shareLayers [${pick.layers.join(', ')}], shareSteps ${pick.fraction} to ${path}\n`);
  }
}
