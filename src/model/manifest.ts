/**
 * The model-pack manifest (docs/model-pack.md, section 2): its types and a validator that
 * collects every problem instead of stopping at the first.
 */
import { expectedOf, isValid } from '../settings/check.js';
import { SETTINGS, settingsIn, type SettingName } from '../settings/table.js';
import { layerGroupProblems } from './layer-groups.js';

export type TextMode = 'joint' | 'cross' | 'none';
export type GuidanceMode = 'cfg' | 'distilled';
export type FitModeName = 'resize' | 'pad';
/** Solver names as a manifest may spell them; the solvers layer owns their meaning. */
export type SolverNameLike = 'euler' | 'midpoint' | 'fireflow';

export type ShiftSpec =
  | { readonly kind: 'static'; readonly value: number }
  | { readonly kind: 'resolution'; readonly baseShift: number; readonly maxShift: number; readonly baseTokens: number; readonly maxTokens: number };

export interface TaskDefaults {
  /** classifier-free guidance scale for this task (1 = off) */
  readonly guidance?: number;
  /**
   * what guidance steers the edit path away from: the empty prompt (plain classifier-free
   * guidance) or the source prompt (the difference between the prompts is what is amplified)
   */
  readonly guideAgainst?: 'empty' | 'source';
  readonly shareLayers?: readonly number[];
  readonly shareSteps?: number;
  /** masked tasks (swap): logit bias on the shared keys inside the mask, ≤ 0 */
  readonly maskBias?: number;
  /**
   * edit: θ in [0, 1) of the mask estimated from the prompts (0 = none); with one, the edit
   * takes the swap task's other defaults, overridden by the auto-edit task's
   */
  readonly autoMask?: number;
}

/** Long-prompt handling (format 2, text.overflow): refuse, or truncate to L keeping the final special token. */
export type TextOverflow = 'refuse' | 'truncate';
/** Words the tokenizer maps to its unknown token (format 2, text.unknown): refuse the prompt, or keep the unknown id. */
export type TextUnknown = 'refuse' | 'keep';
/** Prompt cleaning before tokenizing (format 2, text.clean). */
export type TextClean = 'none' | 'wan' | 'clip';
export const TEXT_CLEANS: readonly TextClean[] = ['none', 'wan', 'clip'];

/** One output of a text-encoder graph (format 2, text.encoders[].outputs[]). */
export interface TextOutputSpec {
  /** the graph's output name */
  readonly name: string;
  /** a token sequence [B, L_e, dim] or one pooled vector per prompt [B, dim] */
  readonly kind: 'sequence' | 'pooled';
  readonly dim: number;
  /** the transformer input it feeds: sequences go to `text`, pooled vectors to `pooled` */
  readonly to: 'text' | 'pooled';
}

/** One of several text encoders (format 2, text.encoders[]): its graph, tokenizer and prompt rules. */
export interface TextEncoderSpec {
  readonly name: string;
  readonly encoder: string;
  readonly tokenizer: string;
  readonly maxTokens: number;
  readonly padId: number;
  readonly attentionMask?: boolean;
  readonly overflow?: TextOverflow;
  readonly unknown?: TextUnknown;
  readonly clean?: TextClean;
  readonly outputs: readonly TextOutputSpec[];
}

/**
 * The text encoder section (docs/model-pack.md 2.6). Either one encoder, described by the fields
 * from `encoder` to `pooledDim` (those after padId are format 2 only), or (format 2) several,
 * listed in `encoders`; `negativePrompt` belongs to the section in both forms.
 * Read it through textEncoders() and textLayout(), which treat both forms alike.
 */
export interface TextSpec {
  readonly encoder?: string;
  readonly tokenizer?: string;
  readonly maxTokens?: number;
  readonly dim?: number;
  readonly padId?: number;
  /** the text-encoder graph takes `attention_mask` int64 [B, L] (default false) */
  readonly attentionMask?: boolean;
  /** a prompt of more than L tokens: refused (default) or truncated with a warning */
  readonly overflow?: TextOverflow;
  /** a word the tokenizer does not know: refused (format 2 default) or kept as the unknown id (format 1) */
  readonly unknown?: TextUnknown;
  readonly clean?: TextClean;
  /** the prompt of the unconditional CFG branch (default "") */
  readonly negativePrompt?: string;
  /** P: the text-encoder graph outputs `pooled` [B, P] and the transformer takes it */
  readonly pooledDim?: number;
  /** format 2: several text encoders, each with its own tokenizer and rules */
  readonly encoders?: readonly TextEncoderSpec[];
}

/** A latent scale or shift: one number, or (format 2) one per channel. */
export type ChannelValues = number | readonly number[];

export interface Manifest {
  readonly format: 'flowedit.pack';
  readonly formatVersion: 1 | 2;
  readonly id: string;
  readonly name: string;
  readonly description?: string;
  readonly license?: string;
  readonly image: { readonly multiple: number; readonly maxPixels?: number; readonly defaultSize?: readonly [number, number] };
  readonly frames?: { readonly max: number; readonly step: number };
  readonly latent: {
    readonly channels: number;
    readonly spatialCompression: number;
    readonly temporalCompression: number;
    readonly scale: ChannelValues;
    readonly shift: ChannelValues;
  };
  readonly schedule: { readonly shift: ShiftSpec };
  readonly transformer: {
    readonly file: string;
    readonly patchSize: readonly [number, number, number];
    readonly layers: number;
    readonly heads: number;
    readonly headDim: number;
    readonly contextLayers: readonly number[];
    readonly text: TextMode;
    readonly guidance: GuidanceMode;
    /** format 2: the graph takes `text_mask` float32 [B, L] (1 real token, 0 padding) */
    readonly textMask?: boolean;
    /** format 2: named sets of context layers (e.g. FLUX.1's "double" and "single"), see layer-groups.ts */
    readonly layerGroups?: Readonly<Record<string, readonly number[]>>;
    /** format 2: the element type of every float port of the graph (default float32) */
    readonly dtype?: 'float32' | 'float16';
    /** the graph's matmul weights are int8 (flowedit models quantize); any format; absent: as the ports */
    readonly weights?: 'int8';
  };
  /** absent: an unconditional pack (transformer.text is "none") */
  readonly text?: TextSpec;
  readonly vae?: { readonly encoder: string; readonly decoder: string };
  readonly defaults?: TaskDefaults & {
    readonly steps?: number;
    readonly solver?: SolverNameLike;
    readonly guidance?: number;
    readonly fit?: FitModeName;
    /** format 2: the edit path's shared context includes the reconstruction path's text keys (joint text) */
    readonly shareText?: boolean;
    readonly tasks?: Readonly<Record<string, TaskDefaults>>;
  };
}

/** The fields only format 2 allows, by section (the rest of format 2 is format 1). */
export const FORMAT2_FIELDS = {
  text: ['attentionMask', 'overflow', 'unknown', 'clean', 'negativePrompt', 'pooledDim', 'encoders'],
  transformer: ['textMask', 'layerGroups', 'dtype'],
  defaults: ['shareText'],
} as const;

/** What the v2 text fields default to: format 1 behaviour, except `unknown`, which format 2 refuses by default. */
export function textRules(m: Pick<Manifest, 'formatVersion' | 'text'>): { overflow: TextOverflow; unknown: TextUnknown; clean: TextClean; negativePrompt: string } {
  const t = m.text;
  return {
    overflow: t?.overflow ?? 'refuse',
    unknown: t?.unknown ?? (m.formatVersion === 2 ? 'refuse' : 'keep'),
    clean: t?.clean ?? 'none',
    negativePrompt: t?.negativePrompt ?? '',
  };
}

/** One text encoder with its prompt rules resolved (defaults filled in as textRules does). */
export interface EncoderPlan {
  readonly name: string;
  readonly encoder: string;
  readonly tokenizer: string;
  readonly maxTokens: number;
  readonly padId: number;
  readonly attentionMask: boolean;
  readonly overflow: TextOverflow;
  readonly unknown: TextUnknown;
  readonly clean: TextClean;
  readonly outputs: readonly TextOutputSpec[];
}

/**
 * The pack's text encoders in order, both manifest forms alike: a single-encoder section is one
 * encoder named "text" whose outputs are `text` (and `pooled` with pooledDim).
 */
export function textEncoders(m: Pick<Manifest, 'formatVersion' | 'text'>): EncoderPlan[] {
  const t = m.text;
  if (!t) return [];
  const unknownDefault: TextUnknown = m.formatVersion === 2 ? 'refuse' : 'keep';
  if (t.encoders) {
    return t.encoders.map((e) => ({
      name: e.name,
      encoder: e.encoder,
      tokenizer: e.tokenizer,
      maxTokens: e.maxTokens,
      padId: e.padId,
      attentionMask: e.attentionMask ?? false,
      overflow: e.overflow ?? 'refuse',
      unknown: e.unknown ?? unknownDefault,
      clean: e.clean ?? 'none',
      outputs: e.outputs,
    }));
  }
  const rules = textRules(m);
  const outputs: TextOutputSpec[] = [{ name: 'text', kind: 'sequence', dim: t.dim!, to: 'text' }];
  if (t.pooledDim !== undefined) outputs.push({ name: 'pooled', kind: 'pooled', dim: t.pooledDim, to: 'pooled' });
  return [
    {
      name: 'text', encoder: t.encoder!, tokenizer: t.tokenizer!, maxTokens: t.maxTokens!, padId: t.padId!, attentionMask: t.attentionMask ?? false,
      overflow: rules.overflow, unknown: rules.unknown, clean: rules.clean, outputs,
    },
  ];
}

/** What the transformer receives from the text side: L tokens of width D, and P pooled values. */
export interface TextLayout {
  /** tokens of the transformer's `text` input: the sequence outputs' token counts, added in encoder order */
  readonly L: number;
  /** width of one text token */
  readonly D: number;
  /** width of the transformer's `pooled` input (the pooled outputs' widths added), undefined when it has none */
  readonly P: number | undefined;
}

export function textLayout(m: Pick<Manifest, 'formatVersion' | 'text'>): TextLayout {
  let L = 0;
  let D = 0;
  let P: number | undefined;
  for (const e of textEncoders(m)) {
    for (const o of e.outputs) {
      if (o.kind === 'sequence') {
        L += e.maxTokens;
        D = o.dim;
      } else P = (P ?? 0) + o.dim;
    }
  }
  return { L, D, P };
}

/** A latent scale or shift per channel: C values. */
export function perChannel(v: ChannelValues, channels: number): number[] {
  return typeof v === 'number' ? new Array<number>(channels).fill(v) : [...v];
}

type Json = unknown;
type Obj = Record<string, Json>;

/** Collects problems as "<path>: expected …, received …" lines. */
class Checker {
  readonly problems: string[] = [];

  private fail(path: string, expected: string, value: Json): void {
    const got = value === undefined ? 'nothing' : JSON.stringify(value);
    this.problems.push(`${path}: expected ${expected}, received ${got}`);
  }

  object(v: Json, path: string): Obj | undefined {
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Obj;
    this.fail(path, 'an object', v);
    return undefined;
  }

  /** Manifest format version, once read (1 unless the manifest says 2). */
  version: 1 | 2 = 1;

  /**
   * Refuses keys not in `allowed`; keys in `v2` are allowed in a format 2 manifest only, and a
   * format 1 manifest that uses one is told so.
   */
  keys(o: Obj, path: string, allowed: readonly string[], v2: readonly string[] = []): void {
    const known = this.version === 2 ? [...allowed, ...v2] : allowed;
    for (const k of Object.keys(o)) {
      if (known.includes(k)) continue;
      if (k === 'device') this.problems.push(`${path}.${k}: a pack cannot choose the device: it is chosen where the edit runs (--device or FLOWEDIT_DEVICE)`);
      else if (v2.includes(k)) this.problems.push(`${path}.${k}: a formatVersion 2 field, but the manifest says formatVersion 1: set "formatVersion": 2 to use it`);
      else this.problems.push(`${path}.${k}: unknown key (allowed: ${known.join(', ')})`);
    }
  }

  bool(v: Json, path: string): void {
    if (v !== undefined && typeof v !== 'boolean') this.fail(path, 'true or false', v);
  }

  /**
   * A latent scale or shift: a number, or in format 2 an array of one number per channel
   * (`channels` when known). `positive` asks every value to be > 0.
   */
  channelValues(v: Json, path: string, channels: Json, positive: boolean): void {
    if (!Array.isArray(v)) return this.num(v, path, false, positive);
    const what = `${positive ? 'positive ' : ''}numbers`;
    if (this.version !== 2) {
      this.problems.push(`${path}: per-channel values (an array) are a formatVersion 2 field, but the manifest says formatVersion 1: set "formatVersion": 2, or give one number`);
      return;
    }
    const C = typeof channels === 'number' && Number.isInteger(channels) ? channels : undefined;
    const ok = v.every((x) => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0)) && (C === undefined || v.length === C);
    if (!ok) this.fail(path, `a ${positive ? 'positive ' : ''}number or an array of ${C ?? 'latent.channels'} ${what} (one per channel)`, v);
  }

  int(v: Json, path: string, min = 0, optional = false): void {
    if (optional && v === undefined) return;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) this.fail(path, `an integer ≥ ${min}`, v);
  }

  num(v: Json, path: string, optional = false, positive = false): void {
    if (optional && v === undefined) return;
    if (typeof v !== 'number' || !Number.isFinite(v) || (positive && v <= 0)) this.fail(path, positive ? 'a positive number' : 'a number', v);
  }

  str(v: Json, path: string, optional = false): void {
    if (optional && v === undefined) return;
    if (typeof v !== 'string' || v.length === 0) this.fail(path, 'a non-empty string', v);
  }

  oneOf(v: Json, path: string, options: readonly string[], optional = false): void {
    if (optional && v === undefined) return;
    if (typeof v !== 'string' || !options.includes(v)) this.fail(path, `one of ${options.map((o) => `"${o}"`).join(', ')}`, v);
  }

  file(v: Json, path: string): void {
    this.str(v, path);
    if (typeof v === 'string' && (v.startsWith('/') || v.split(/[\\/]/).includes('..'))) {
      this.problems.push(`${path}: file "${v}" must be relative to the pack folder and stay inside it`);
    }
  }

  intArray(v: Json, path: string, opts: { length?: number; min?: number; optional?: boolean; nonEmpty?: boolean } = {}): void {
    if (opts.optional && v === undefined) return;
    const ok =
      Array.isArray(v) &&
      v.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= (opts.min ?? 0)) &&
      (opts.length === undefined || v.length === opts.length) &&
      (!opts.nonEmpty || v.length > 0);
    if (!ok) {
      const what = opts.length !== undefined ? `an array of ${opts.length} integers` : `an array of integers${opts.nonEmpty ? ' (at least one)' : ''}`;
      this.fail(path, `${what} ≥ ${opts.min ?? 0}`, v);
    }
  }
}

/** The prompt rules of one encoder (text.overflow, text.unknown, text.clean or their per-encoder twins). */
function checkPromptRules(c: Checker, o: Obj, path: string): void {
  c.oneOf(o.overflow, `${path}.overflow`, ['refuse', 'truncate'], true);
  c.oneOf(o.unknown, `${path}.unknown`, ['refuse', 'keep'], true);
  c.oneOf(o.clean, `${path}.clean`, TEXT_CLEANS, true);
}

const ENCODER_NAME = /^[a-z0-9][a-z0-9_-]*$/;

/**
 * The several-encoders form of the text section (format 2): `encoders` and `negativePrompt`
 * only; each encoder with its graph, tokenizer, token count, padding and rules, and outputs that
 * are token sequences for the transformer's `text` input (all of one width) or pooled vectors for
 * its `pooled` input; at least one sequence.
 */
function checkEncoders(c: Checker, text: Obj): void {
  c.keys(text, 'text', ['encoders', 'negativePrompt']);
  if (!Array.isArray(text.encoders) || text.encoders.length === 0) {
    c.problems.push(`text.encoders: expected a list of at least one text encoder, received ${JSON.stringify(text.encoders)}`);
    return;
  }
  const names = new Set<string>();
  const widths = new Set<number>();
  let sequences = 0;
  text.encoders.forEach((raw, n) => {
    const path = `text.encoders[${n}]`;
    const e = c.object(raw, path);
    if (!e) return;
    c.keys(e, path, ['name', 'encoder', 'tokenizer', 'maxTokens', 'padId', 'attentionMask', 'overflow', 'unknown', 'clean', 'outputs']);
    if (typeof e.name !== 'string' || !ENCODER_NAME.test(e.name)) c.problems.push(`${path}.name: expected a name of lower-case letters, digits, '_' and '-' (e.g. "t5"), received ${JSON.stringify(e.name)}`);
    else if (names.has(e.name)) c.problems.push(`${path}.name: "${e.name}" names two encoders: give each its own name`);
    else names.add(e.name);
    c.file(e.encoder, `${path}.encoder`);
    c.file(e.tokenizer, `${path}.tokenizer`);
    c.int(e.maxTokens, `${path}.maxTokens`, 1);
    c.int(e.padId, `${path}.padId`, 0);
    c.bool(e.attentionMask, `${path}.attentionMask`);
    checkPromptRules(c, e, path);
    if (!Array.isArray(e.outputs) || e.outputs.length === 0) {
      c.problems.push(`${path}.outputs: expected a list of at least one output ({ "name", "kind", "dim", "to" }), received ${JSON.stringify(e.outputs)}`);
      return;
    }
    const outNames = new Set<string>();
    e.outputs.forEach((rawOut, k) => {
      const op = `${path}.outputs[${k}]`;
      const o = c.object(rawOut, op);
      if (!o) return;
      c.keys(o, op, ['name', 'kind', 'dim', 'to']);
      c.str(o.name, `${op}.name`);
      if (typeof o.name === 'string' && outNames.has(o.name)) c.problems.push(`${op}.name: "${o.name}" names two outputs of one graph`);
      if (typeof o.name === 'string') outNames.add(o.name);
      c.oneOf(o.kind, `${op}.kind`, ['sequence', 'pooled']);
      c.int(o.dim, `${op}.dim`, 1);
      c.oneOf(o.to, `${op}.to`, ['text', 'pooled']);
      if (o.kind === 'sequence' && o.to !== undefined && o.to !== 'text') c.problems.push(`${op}.to: a token sequence feeds the transformer's "text" input, received ${JSON.stringify(o.to)}`);
      if (o.kind === 'pooled' && o.to !== undefined && o.to !== 'pooled') c.problems.push(`${op}.to: a pooled vector feeds the transformer's "pooled" input, received ${JSON.stringify(o.to)}`);
      if (o.kind === 'sequence') {
        sequences++;
        if (typeof o.dim === 'number') widths.add(o.dim);
      }
    });
  });
  if (sequences === 0) c.problems.push('text.encoders: no output is a token sequence: at least one encoder must feed the transformer\'s "text" input');
  if (widths.size > 1) c.problems.push(`text.encoders: the token sequences are joined along the tokens, so they need one width; received dims ${[...widths].join(', ')}`);
}

const TOP_KEYS = ['format', 'formatVersion', 'id', 'name', 'description', 'license', 'image', 'frames', 'latent', 'schedule', 'transformer', 'text', 'vae', 'defaults'];

/** Keys of defaults (format 1; FORMAT2_FIELDS.defaults adds more) and of defaults.tasks.<task>, from the table of settings. */
const DEFAULTS_KEYS = [...settingsIn('pack').filter((k) => !(FORMAT2_FIELDS.defaults as readonly string[]).includes(k)), 'tasks'];
const TASK_DEFAULTS_KEYS = settingsIn('packTask');

/** The table's checks of the settings in `o` (shareLayers: see checkTaskDefaults). */
function checkSettings(c: Checker, o: Obj, path: string, keys: readonly SettingName[]): void {
  for (const key of keys) {
    const v = o[key];
    if (v === undefined || key === 'shareLayers') continue;
    const s = SETTINGS[key];
    if (s.kind === 'choice') c.oneOf(v, `${path}.${key}`, s.choices);
    else if (!isValid(key, v)) c.problems.push(`${path}.${key}: expected ${expectedOf(key)}, received ${JSON.stringify(v)}`);
  }
}

/** A pack's layers are numbers only (no group names), each one with context ports. */
function checkTaskDefaults(c: Checker, o: Obj, path: string, contextLayers: readonly number[]): void {
  c.intArray(o.shareLayers, `${path}.shareLayers`, { optional: true, nonEmpty: true });
  if (Array.isArray(o.shareLayers)) {
    for (const l of o.shareLayers) {
      if (typeof l === 'number' && !contextLayers.includes(l)) {
        c.problems.push(`${path}.shareLayers: layer ${l} has no context ports (contextLayers: ${contextLayers.join(', ')})`);
      }
    }
  }
}

/** Validates parsed manifest JSON. Returns the manifest, or every problem found. */
export function checkManifest(raw: Json): { manifest: Manifest; problems: [] } | { manifest: null; problems: string[] } {
  const c = new Checker();
  const m = c.object(raw, 'manifest');
  if (!m) return { manifest: null, problems: c.problems };
  c.keys(m, 'manifest', TOP_KEYS);
  if (m.format !== 'flowedit.pack') c.problems.push(`format: expected "flowedit.pack", received ${JSON.stringify(m.format)}`);
  if (m.formatVersion === 2) c.version = 2;
  else if (m.formatVersion !== 1) c.problems.push(`formatVersion: expected 1 or 2, received ${JSON.stringify(m.formatVersion)}`);
  c.str(m.id, 'id');
  if (typeof m.id === 'string' && !/^[a-z0-9][a-z0-9._-]*$/.test(m.id)) c.problems.push(`id: expected [a-z0-9][a-z0-9._-]*, received "${m.id}"`);
  c.str(m.name, 'name');
  c.str(m.description, 'description', true);
  c.str(m.license, 'license', true);

  const image = c.object(m.image, 'image');
  if (image) {
    c.keys(image, 'image', ['multiple', 'maxPixels', 'defaultSize']);
    c.int(image.multiple, 'image.multiple', 1);
    c.int(image.maxPixels, 'image.maxPixels', 1, true);
    c.intArray(image.defaultSize, 'image.defaultSize', { length: 2, min: 1, optional: true });
  }
  if (m.frames !== undefined) {
    const frames = c.object(m.frames, 'frames');
    if (frames) {
      c.keys(frames, 'frames', ['max', 'step']);
      c.int(frames.max, 'frames.max', 1);
      c.int(frames.step, 'frames.step', 1);
    }
  }
  const latent = c.object(m.latent, 'latent');
  if (latent) {
    c.keys(latent, 'latent', ['channels', 'spatialCompression', 'temporalCompression', 'scale', 'shift']);
    c.int(latent.channels, 'latent.channels', 1);
    c.int(latent.spatialCompression, 'latent.spatialCompression', 1);
    c.int(latent.temporalCompression, 'latent.temporalCompression', 1);
    c.channelValues(latent.scale, 'latent.scale', latent.channels, true);
    c.channelValues(latent.shift, 'latent.shift', latent.channels, false);
  }
  const schedule = c.object(m.schedule, 'schedule');
  const shift = schedule ? c.object(schedule.shift, 'schedule.shift') : undefined;
  if (schedule) c.keys(schedule, 'schedule', ['shift']);
  if (shift) {
    c.oneOf(shift.kind, 'schedule.shift.kind', ['static', 'resolution']);
    if (shift.kind === 'static') {
      c.keys(shift, 'schedule.shift', ['kind', 'value']);
      c.num(shift.value, 'schedule.shift.value', false, true);
    } else if (shift.kind === 'resolution') {
      c.keys(shift, 'schedule.shift', ['kind', 'baseShift', 'maxShift', 'baseTokens', 'maxTokens']);
      c.num(shift.baseShift, 'schedule.shift.baseShift');
      c.num(shift.maxShift, 'schedule.shift.maxShift');
      c.int(shift.baseTokens, 'schedule.shift.baseTokens', 1);
      c.int(shift.maxTokens, 'schedule.shift.maxTokens', 1);
      if (shift.baseTokens === shift.maxTokens) c.problems.push('schedule.shift: baseTokens and maxTokens must differ');
    }
  }
  const tr = c.object(m.transformer, 'transformer');
  let contextLayers: number[] = [];
  if (tr) {
    c.keys(tr, 'transformer', ['file', 'patchSize', 'layers', 'heads', 'headDim', 'contextLayers', 'text', 'guidance', 'weights'], FORMAT2_FIELDS.transformer);
    c.bool(tr.textMask, 'transformer.textMask');
    c.file(tr.file, 'transformer.file');
    c.intArray(tr.patchSize, 'transformer.patchSize', { length: 3, min: 1 });
    c.int(tr.layers, 'transformer.layers', 1);
    c.int(tr.heads, 'transformer.heads', 1);
    c.int(tr.headDim, 'transformer.headDim', 1);
    c.intArray(tr.contextLayers, 'transformer.contextLayers', { nonEmpty: true });
    if (Array.isArray(tr.contextLayers)) {
      contextLayers = tr.contextLayers.filter((x): x is number => typeof x === 'number');
      const sorted = contextLayers.every((l, i) => i === 0 || l > (contextLayers[i - 1] ?? -1));
      if (!sorted) c.problems.push('transformer.contextLayers: expected ascending unique layer indices');
      if (typeof tr.layers === 'number' && contextLayers.some((l) => l >= (tr.layers as number))) {
        c.problems.push(`transformer.contextLayers: every index must be < layers (${tr.layers})`);
      }
    }
    c.oneOf(tr.text, 'transformer.text', ['joint', 'cross', 'none']);
    c.oneOf(tr.guidance, 'transformer.guidance', ['cfg', 'distilled']);
    if (tr.dtype !== undefined) c.oneOf(tr.dtype, 'transformer.dtype', ['float32', 'float16']);
    if (tr.weights !== undefined) c.oneOf(tr.weights, 'transformer.weights', ['int8']);
    if (tr.weights === 'int8' && tr.dtype === 'float16') c.problems.push('transformer.weights: "int8" weights take float32 ports: leave transformer.dtype out (or "float32")');
    if (tr.layerGroups !== undefined && c.version === 2) c.problems.push(...layerGroupProblems(tr.layerGroups, contextLayers));
  }
  const unconditional = tr?.text === 'none';
  if (unconditional && m.text !== undefined) c.problems.push('text: an unconditional pack (transformer.text "none") has no text section');
  if (unconditional && tr?.guidance !== 'cfg') c.problems.push('transformer.guidance: an unconditional pack takes no guidance input: use "cfg"');
  if (!unconditional && m.text === undefined) c.problems.push('text: expected the text encoder section (or transformer.text "none" for an unconditional pack)');
  if (unconditional && tr?.textMask === true) c.problems.push('transformer.textMask: an unconditional pack (transformer.text "none") has no text to mask');
  const text = m.text === undefined ? undefined : c.object(m.text, 'text');
  if (text && text.encoders !== undefined && c.version === 2) checkEncoders(c, text);
  else if (text) {
    c.keys(text, 'text', ['encoder', 'tokenizer', 'maxTokens', 'dim', 'padId'], FORMAT2_FIELDS.text);
    c.file(text.encoder, 'text.encoder');
    c.file(text.tokenizer, 'text.tokenizer');
    c.int(text.maxTokens, 'text.maxTokens', 1);
    c.int(text.dim, 'text.dim', 1);
    c.int(text.padId, 'text.padId', 0);
    c.bool(text.attentionMask, 'text.attentionMask');
    checkPromptRules(c, text, 'text');
    c.int(text.pooledDim, 'text.pooledDim', 1, true);
  }
  if (text) {
    if (text.negativePrompt !== undefined && typeof text.negativePrompt !== 'string') c.problems.push(`text.negativePrompt: expected text (may be empty), received ${JSON.stringify(text.negativePrompt)}`);
    if (typeof text.negativePrompt === 'string' && text.negativePrompt !== '' && tr?.guidance === 'distilled') {
      c.problems.push('text.negativePrompt: a pack with distilled guidance runs no negative branch: remove it, or use transformer.guidance "cfg"');
    }
  }
  if (m.vae !== undefined) {
    const vae = c.object(m.vae, 'vae');
    if (vae) {
      c.keys(vae, 'vae', ['encoder', 'decoder']);
      c.file(vae.encoder, 'vae.encoder');
      c.file(vae.decoder, 'vae.decoder');
    }
  } else if (latent) {
    const all = (v: Json, x: number) => v === x || (Array.isArray(v) && v.length > 0 && v.every((e) => e === x));
    const pixel = latent.channels === 3 && latent.spatialCompression === 1 && latent.temporalCompression === 1 && all(latent.scale, 1) && all(latent.shift, 0);
    if (!pixel) c.problems.push('latent: a pack without vae works in pixel space and needs channels 3, spatialCompression 1, temporalCompression 1, scale 1, shift 0');
  }
  if (image && latent && tr && Array.isArray(tr.patchSize) && typeof image.multiple === 'number') {
    const s = Number(latent.spatialCompression);
    const [, ph, pw] = tr.patchSize as number[];
    if (ph && pw && (image.multiple % (s * ph) !== 0 || image.multiple % (s * pw) !== 0)) {
      c.problems.push(`image.multiple: ${image.multiple} must be a multiple of spatialCompression × patch size (${s * ph} and ${s * pw})`);
    }
  }
  if (m.defaults !== undefined) {
    const d = c.object(m.defaults, 'defaults');
    if (d) {
      c.keys(d, 'defaults', DEFAULTS_KEYS, FORMAT2_FIELDS.defaults);
      checkSettings(c, d, 'defaults', settingsIn('pack'));
      checkTaskDefaults(c, d, 'defaults', contextLayers);
      if (d.tasks !== undefined) {
        const tasks = c.object(d.tasks, 'defaults.tasks');
        for (const [name, task] of Object.entries(tasks ?? {})) {
          const t = c.object(task, `defaults.tasks.${name}`);
          if (t) {
            c.keys(t, `defaults.tasks.${name}`, TASK_DEFAULTS_KEYS);
            checkSettings(c, t, `defaults.tasks.${name}`, TASK_DEFAULTS_KEYS);
            checkTaskDefaults(c, t, `defaults.tasks.${name}`, contextLayers);
          }
        }
      }
    }
  }
  if (c.problems.length > 0) return { manifest: null, problems: c.problems };
  return { manifest: raw as Manifest, problems: [] };
}
