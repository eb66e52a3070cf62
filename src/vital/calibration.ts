/**
 * Calibration sets for the vital-layer analysis (docs/calibration.md), in two forms:
 *
 * - a calibration file (`"format": "flowedit.calibration", "version": 1`, `cases`): edits of
 *   stills, each with its task, prompts, mask and, where known, the right answer (a ground-truth
 *   image, and the object the answer has or no longer has in a scene world); paths are relative to
 *   the file. The built-in sets are of this form.
 * - a folder of the user's own stills and clips with a listing, `calibration.json` or
 *   `calibration.yaml` (`entries`): each entry names its input, prompts and, for masked tasks, its
 *   mask; an entry without a task serves every task. Paths are relative to the folder and must
 *   stay inside it.
 *
 * This module finds and reads the listing and checks what it says without opening any media
 * (calibration-media.ts checks and loads the media). Every problem of a folder listing is
 * reported at once, one line each, naming the entry.
 */
import { existsSync } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseYaml } from '../media/yaml.js';
import { ANALYSIS_TASKS, isAnalysisTask, type AnalysisTask } from '../settings/tasks.js';

export { ANALYSIS_TASKS, defaultsKeyOf, isAnalysisTask, type AnalysisTask } from '../settings/tasks.js';

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
  /** the task the edit is for; absent (folder listings): it serves every task */
  readonly task?: AnalysisTask;
  /** absolute paths: the source (a still, or in a folder listing also a clip), its mask, the right answer */
  readonly input: string;
  readonly mask?: string;
  readonly expected?: string;
  /** clips: use the first this many frames (listing field `frames`; default: as many as one pass of the pack takes) */
  readonly firstFrames?: number;
  readonly sourcePrompt: string;
  readonly targetPrompt: string;
  readonly check?: ObjectCheck;
}

export interface Calibration {
  /** the listing read: a calibration file, or a folder's calibration.json / calibration.yaml */
  readonly file: string;
  /** absolute path of the scene world file the checks use, when the set names one */
  readonly world?: string;
  readonly cases: readonly CalibrationCase[];
}

/** The names a calibration folder's listing may have. */
export const LISTING_NAMES = ['calibration.json', 'calibration.yaml', 'calibration.yml'] as const;

/** The fields of a folder listing's entry. */
const ENTRY_FIELDS = ['id', 'task', 'input', 'mask', 'expected', 'frames', 'sourcePrompt', 'targetPrompt'] as const;

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

/**
 * The listing a --calibration path names: the file itself, or a folder's calibration.json /
 * calibration.yaml (exactly one of them).
 */
export async function listingOf(path: string): Promise<string> {
  const st = await stat(path).catch((e: NodeJS.ErrnoException) => {
    throw new Error(`Cannot read calibration file ${path}: ${e.code === 'ENOENT' ? 'not found' : e.message}`);
  });
  if (!st.isDirectory()) return path;
  const found = LISTING_NAMES.filter((n) => existsSync(join(path, n)));
  if (found.length === 0) {
    throw new Error(
      `Calibration folder ${path} holds no ${LISTING_NAMES.slice(0, 2).join(' or ')}: list its edits in one, e.g. ` +
        `entries: [{input: photo.png, mask: photo-mask.png, sourcePrompt: "…", targetPrompt: "…"}] (docs/calibration.md, "Your own pack and your own media")`,
    );
  }
  if (found.length > 1) throw new Error(`Calibration folder ${path} holds ${found.join(' and ')}: keep one listing`);
  return join(path, found[0]!);
}

/** A listing's text as data: JSON, or YAML for .yaml / .yml. */
async function parseListing(file: string): Promise<unknown> {
  const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new Error(`Cannot read calibration file ${file}: ${e.code === 'ENOENT' ? 'not found' : e.message}`);
  });
  if (/\.ya?ml$/i.test(extname(file))) return parseYaml(text, file);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`Calibration file ${file} is not JSON: ${(e as Error).message}`);
  }
}

/** Reads and checks a calibration set: a calibration file, a folder's listing, or a folder (its listing). */
export async function readCalibration(path: string): Promise<Calibration> {
  const file = await listingOf(path);
  const doc = await parseListing(file);
  if (isMapping(doc) && doc.entries !== undefined) return readFolderListing(file, doc);
  if (!isMapping(doc) || doc.format !== 'flowedit.calibration' || !Array.isArray(doc.cases)) {
    throw new Error(
      `${file} is not a calibration file: expected {"format": "flowedit.calibration", "cases": [...]} or a folder listing {"entries": [...]} (docs/calibration.md)`,
    );
  }
  return readCalibrationFile(file, doc);
}

/** A calibration file (format 1): every named file must exist; the first problem is reported. */
function readCalibrationFile(file: string, doc: Record<string, unknown>): Calibration {
  const dir = dirname(file);
  const world = typeof doc.world === 'string' ? existing(dir, doc.world, file) : undefined;
  const ids = new Set<string>();
  const cases = (doc.cases as unknown[]).map((c, i): CalibrationCase => {
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
      input: existing(dir, field(c, 'image', where, true)!, where),
      mask: existing(dir, field(c, 'mask', where, true)!, where),
      ...(expected !== undefined ? { expected: existing(dir, expected, where) } : {}),
      sourcePrompt: field(c, 'sourcePrompt', where, false) ?? '',
      targetPrompt: field(c, 'targetPrompt', where, true)!,
      ...(check ? { check } : {}),
    };
  });
  return { file, ...(world ? { world } : {}), cases };
}

/** The most problems a message lists; the rest are counted. */
const LISTED_PROBLEMS = 20;

/** Problems found in a calibration set, one line each, thrown together. */
export class CalibrationProblems extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    const lines = problems.slice(0, LISTED_PROBLEMS).concat(problems.length > LISTED_PROBLEMS ? [`… and ${problems.length - LISTED_PROBLEMS} more`] : []);
    super(problems.length === 1 ? `${file}: ${problems[0]}` : `${file}: ${problems.length} problems:\n  ${lines.join('\n  ')}`);
    this.name = 'CalibrationProblems';
  }
}

/** How a folder listing's entry is named in messages: its number, and its input (or id) when it has one. */
export function entryName(index: number, o: unknown): string {
  const label = isMapping(o) ? (typeof o.id === 'string' ? o.id : typeof o.input === 'string' ? o.input : undefined) : undefined;
  return `entry ${index + 1}${label !== undefined ? ` (${label})` : ''}`;
}

/**
 * A path an entry names, checked without opening the file: relative, inside the folder (also
 * once links are followed), and an existing file. Returns its absolute path, or a problem.
 */
async function confinedFile(dir: string, realDir: string, rel: string, key: string): Promise<string | { problem: string }> {
  if (isAbsolute(rel)) return { problem: `${key}: ${rel} is an absolute path; name files inside the calibration folder, relative to it` };
  const path = resolve(dir, rel);
  const outside = (p: string, root: string) => p !== root && !p.startsWith(root.endsWith(sep) ? root : root + sep);
  if (outside(path, dir)) return { problem: `${key}: ${rel} is outside the calibration folder ${dir}; copy the file into it` };
  const st = await stat(path).catch(() => null);
  if (!st) return { problem: `${key}: ${rel} not found (looked for ${path})` };
  if (!st.isFile() && !(key === 'mask' && st.isDirectory())) return { problem: `${key}: ${rel} is not a file` };
  const real = await realpath(path);
  if (outside(real, realDir)) return { problem: `${key}: ${rel} links to ${real}, outside the calibration folder ${dir}; copy the file into it` };
  return path;
}

/**
 * A folder listing: `entries`, each {input, targetPrompt, sourcePrompt?, mask?, expected?, frames?,
 * task?, id?}. Every problem is found and thrown together (CalibrationProblems), each naming its entry.
 */
async function readFolderListing(file: string, doc: Record<string, unknown>): Promise<Calibration> {
  const problems: string[] = [];
  for (const key of Object.keys(doc)) {
    if (!['entries', 'format', 'version'].includes(key)) problems.push(`unknown field "${key}" (a listing has entries, and optionally format and version)`);
  }
  if (doc.format !== undefined && doc.format !== 'flowedit.calibration') problems.push(`format: expected "flowedit.calibration" but received ${JSON.stringify(doc.format)}`);
  if (doc.version !== undefined && doc.version !== 2) problems.push(`version: a folder listing is version 2 but this says ${JSON.stringify(doc.version)}`);
  if (!Array.isArray(doc.entries) || doc.entries.length === 0) {
    problems.push('entries: expected a list of edits, e.g. [{input: photo.png, mask: photo-mask.png, sourcePrompt: "…", targetPrompt: "…"}]');
    throw new CalibrationProblems(file, problems);
  }
  const dir = resolve(dirname(file));
  const realDir = await realpath(dir);
  const ids = new Map<string, number>();
  const cases: CalibrationCase[] = [];
  for (const [i, e] of (doc.entries as unknown[]).entries()) {
    const where = entryName(i, e);
    const say = (p: string) => problems.push(`${where}: ${p}`);
    if (!isMapping(e)) {
      say('expected {input, targetPrompt, sourcePrompt, mask, …}');
      continue;
    }
    const before = problems.length;
    for (const key of Object.keys(e)) {
      if ((ENTRY_FIELDS as readonly string[]).includes(key)) continue;
      say(key === 'image' ? 'unknown field "image": a folder listing names its still or clip with "input"' : `unknown field "${key}" (an entry has ${ENTRY_FIELDS.join(', ')})`);
    }
    const text = (key: string, required: boolean): string | undefined => {
      const v = e[key];
      if (v === undefined && !required) return undefined;
      if (typeof v === 'string' && (v !== '' || key === 'sourcePrompt')) return v;
      say(`${key}: expected ${key === 'sourcePrompt' ? 'text' : 'non-empty text'} but received ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
      return undefined;
    };
    const file = async (key: string, required: boolean): Promise<string | undefined> => {
      const rel = text(key, required);
      if (rel === undefined) return undefined;
      const r = await confinedFile(dir, realDir, rel, key);
      if (typeof r === 'string') return r;
      say(r.problem);
      return undefined;
    };
    const input = await file('input', true);
    const mask = await file('mask', false);
    const expected = await file('expected', false);
    const sourcePrompt = text('sourcePrompt', false) ?? '';
    const targetPrompt = text('targetPrompt', true);
    const task = text('task', false);
    if (task !== undefined && !isAnalysisTask(task)) say(`task "${task}" is not one of ${ANALYSIS_TASKS.join(', ')} (leave it out for an entry every task uses)`);
    const frames = e.frames;
    if (frames !== undefined && !(typeof frames === 'number' && Number.isInteger(frames) && frames > 0)) say(`frames: expected a positive integer (the clip's first frames to use) but received ${JSON.stringify(frames)}`);
    const id = text('id', false) ?? (typeof e.input === 'string' ? e.input : `entry-${i + 1}`);
    const twin = ids.get(id);
    if (twin !== undefined) say(`id "${id}" is also entry ${twin + 1}'s; give each entry its own id`);
    ids.set(id, i);
    if (problems.length > before || input === undefined || targetPrompt === undefined) continue;
    cases.push({
      id,
      ...(task !== undefined ? { task: task as AnalysisTask } : {}),
      input,
      ...(mask !== undefined ? { mask } : {}),
      ...(expected !== undefined ? { expected } : {}),
      ...(frames !== undefined ? { firstFrames: frames as number } : {}),
      sourcePrompt,
      targetPrompt,
    });
  }
  if (problems.length) throw new CalibrationProblems(file, problems);
  return { file, cases };
}

/**
 * The cases of one task, at most `limit` of them: those listed for it, and a folder listing's
 * entries without a task. Refuses a set with none, saying what it has.
 */
export function taskCases(cal: Calibration, task: AnalysisTask, limit = Infinity): CalibrationCase[] {
  const chosen = cal.cases.filter((c) => c.task === undefined || c.task === task).slice(0, limit);
  if (chosen.length === 0) {
    const tasks = [...new Set(cal.cases.map((c) => c.task))];
    throw new Error(`${cal.file} has no ${task} cases (it has ${tasks.join(', ') || 'none'}); add some or choose another --task`);
  }
  return chosen;
}

/** A name for a calibration set in tables: the folder's name for a folder listing, else the file's. */
export function calibrationName(cal: Calibration): string {
  const name = basename(cal.file);
  return (LISTING_NAMES as readonly string[]).includes(name) ? relative(process.cwd(), dirname(cal.file)) || '.' : relative(process.cwd(), cal.file) || name;
}
