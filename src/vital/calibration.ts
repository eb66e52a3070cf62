/**
 * Calibration sets for the vital-layer analysis (docs/calibration.md): a JSON file listing edits
 * of stills, each with its task, prompts, the region it may change (a mask) and, where known, the
 * right answer (a ground-truth image, and the object the answer has or no longer has). Paths are
 * relative to the file. This module reads and checks the file and loads its images.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readImage, type RgbImage } from '../media/image.js';
import { readMask, type Mask } from '../media/mask.js';
import { ANALYSIS_TASKS, isAnalysisTask, type AnalysisTask } from '../edit/tasks.js';

export { ANALYSIS_TASKS, defaultsKeyOf, isAnalysisTask, type AnalysisTask } from '../edit/tasks.js';

export interface ObjectCheck {
  readonly colour: string;
  readonly shape: string;
  /** true: the right answer has this object; false: it no longer has it (remove) */
  readonly present: boolean;
  /** absolute path of the object's coverage (in the answer, or for remove in the source) */
  readonly mask: string;
}

export interface CalibrationCase {
  readonly id: string;
  readonly task: AnalysisTask;
  /** absolute paths */
  readonly image: string;
  readonly mask: string;
  readonly expected?: string;
  readonly sourcePrompt: string;
  readonly targetPrompt: string;
  readonly check?: ObjectCheck;
}

export interface Calibration {
  readonly file: string;
  /** absolute path of the scene world file the checks use, when the set names one */
  readonly world?: string;
  readonly cases: readonly CalibrationCase[];
}

export interface LoadedCalibrationCase extends CalibrationCase {
  readonly source: RgbImage;
  readonly region: Mask;
  readonly truth: RgbImage | null;
  readonly checkMask: Mask | null;
}

/** The package root: this file is dist/src/vital/calibration.js inside it. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The built-in pack's calibration set for a seed (python/make_calibration.py renders them). */
export function builtinCalibration(seed: number): string {
  return join(ROOT, 'scenes', 'calibration', `seed-${seed}`, 'calibration.json');
}

const isMapping = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function field(o: Record<string, unknown>, key: string, where: string, required: boolean): string | undefined {
  const v = o[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v === '') throw new Error(`${where}: ${key}: expected non-empty text but received ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
  return v;
}

function existing(dir: string, rel: string, where: string): string {
  const path = resolve(dir, rel);
  if (!existsSync(path)) throw new Error(`${where}: ${rel} not found (looked for ${path}); paths are relative to the calibration file`);
  return path;
}

/** Reads and checks a calibration file; every named file must exist. */
export async function readCalibration(file: string): Promise<Calibration> {
  const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new Error(`Cannot read calibration file ${file}: ${e.code === 'ENOENT' ? 'not found' : e.message}`);
  });
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`Calibration file ${file} is not JSON: ${(e as Error).message}`);
  }
  if (!isMapping(doc) || doc.format !== 'flowedit.calibration' || !Array.isArray(doc.cases)) {
    throw new Error(`${file} is not a calibration file: expected {"format": "flowedit.calibration", "cases": [...]} (docs/calibration.md)`);
  }
  const dir = dirname(file);
  const world = typeof doc.world === 'string' ? existing(dir, doc.world, file) : undefined;
  const ids = new Set<string>();
  const cases = doc.cases.map((c, i): CalibrationCase => {
    const where = `${file}: case ${i + 1}`;
    if (!isMapping(c)) throw new Error(`${where}: expected an object`);
    const id = field(c, 'id', where, true)!;
    if (ids.has(id)) throw new Error(`${where}: id "${id}" repeats`);
    ids.add(id);
    const task = field(c, 'task', where, true)!;
    if (!isAnalysisTask(task)) throw new Error(`${where}: task "${task}" is not one of ${ANALYSIS_TASKS.join(', ')}`);
    const expected = field(c, 'expected', where, false);
    let check: ObjectCheck | undefined;
    if (c.check !== undefined) {
      const k = c.check;
      if (!isMapping(k) || typeof k.present !== 'boolean') throw new Error(`${where}: check: expected {colour, shape, present, mask}`);
      check = { colour: field(k, 'colour', `${where}: check`, true)!, shape: field(k, 'shape', `${where}: check`, true)!, present: k.present, mask: existing(dir, field(k, 'mask', `${where}: check`, true)!, where) };
    }
    return {
      id,
      task,
      image: existing(dir, field(c, 'image', where, true)!, where),
      mask: existing(dir, field(c, 'mask', where, true)!, where),
      ...(expected !== undefined ? { expected: existing(dir, expected, where) } : {}),
      sourcePrompt: field(c, 'sourcePrompt', where, false) ?? '',
      targetPrompt: field(c, 'targetPrompt', where, true)!,
      ...(check ? { check } : {}),
    };
  });
  return { file, ...(world ? { world } : {}), cases };
}

/** The cases of one task, at most `limit` of them, with their images loaded. */
export async function loadTaskCases(cal: Calibration, task: AnalysisTask, limit = Infinity): Promise<LoadedCalibrationCase[]> {
  const chosen = cal.cases.filter((c) => c.task === task).slice(0, limit);
  if (chosen.length === 0) {
    const tasks = [...new Set(cal.cases.map((c) => c.task))];
    throw new Error(`${cal.file} has no ${task} cases (it has ${tasks.join(', ') || 'none'}); add some or choose another --task`);
  }
  const out: LoadedCalibrationCase[] = [];
  for (const c of chosen) {
    const source = await readImage(c.image);
    const truth = c.expected ? await readImage(c.expected) : null;
    if (truth && (truth.width !== source.width || truth.height !== source.height)) {
      throw new Error(`${cal.file}: case ${c.id}: the expected image is ${truth.width}×${truth.height} but the source is ${source.width}×${source.height}`);
    }
    const region = await readMask(c.mask);
    const checkMask = c.check ? await readMask(c.check.mask) : null;
    for (const [what, m] of [['mask', region], ['check mask', checkMask]] as const) {
      if (m && (m.width !== source.width || m.height !== source.height || m.frames.length !== 1)) {
        throw new Error(`${cal.file}: case ${c.id}: the ${what} is ${m.width}×${m.height}${m.frames.length !== 1 ? ` with ${m.frames.length} frames` : ''} but the source is a ${source.width}×${source.height} still; draw it at the image's size`);
      }
    }
    out.push({ ...c, source, region, truth, checkMask });
  }
  return out;
}
