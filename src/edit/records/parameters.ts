/**
 * The "parameters" text an output carries, in the convention image tools share (the one
 * AUTOMATIC1111's web UI writes and its readers parse):
 *
 *   a red circle on stripes                       <- the prompt (edit, swap: the target prompt), any lines
 *   Negative prompt: gray dots                     <- only when there is one
 *   Steps: 20, Sampler: fireflow, CFG scale: 3, Seed: 0, Size: 128x128, Model: tiny, Source prompt: …, Command: edit, Version: flowedit 0.1.0
 *
 * The last line is "Key: value" pairs joined by ", "; a value holding a comma, a colon, a newline
 * or a quote, or starting or ending with a space, or empty, is written as a JSON string
 * ("Source prompt: \"a red circle, on stripes\""). Readers split it the same way (parseParameters).
 */
import type { OutputRecord } from './outputs.js';

/** The parts of a parameters text: its prompt lines, its negative prompt, and the last line's pairs in order. */
export interface ParsedParameters {
  readonly prompt: string;
  readonly negativePrompt?: string;
  readonly params: ReadonlyMap<string, string>;
}

/** A record field and its key on the last line, with how its value is written and read back. */
interface Field {
  readonly key: string;
  readonly write: (r: OutputRecord) => string | number | boolean | undefined;
  readonly read: (value: string) => Partial<Record<keyof OutputRecord, unknown>>;
}

const num = (name: keyof OutputRecord): Field['read'] => (v) => ({ [name]: Number(v) });
const str = (name: keyof OutputRecord): Field['read'] => (v) => ({ [name]: v });
const bool = (name: keyof OutputRecord): Field['read'] => (v) => ({ [name]: v === 'true' });

/** The last line's keys in order: the shared ones first (as other tools write them), flowedit's own after. */
const FIELDS: readonly Field[] = [
  { key: 'Steps', write: (r) => r.steps, read: num('steps') },
  { key: 'Sampler', write: (r) => r.solver, read: str('solver') },
  { key: 'CFG scale', write: (r) => r.guidance, read: num('guidance') },
  { key: 'Seed', write: (r) => r.seed, read: num('seed') },
  {
    key: 'Size',
    write: (r) => (r.width !== undefined && r.height !== undefined ? `${r.width}x${r.height}` : undefined),
    read: (v) => {
      const m = /^(\d+)x(\d+)$/.exec(v);
      return m ? { width: Number(m[1]), height: Number(m[2]) } : {};
    },
  },
  { key: 'Model', write: (r) => r.model, read: str('model') },
  { key: 'Source prompt', write: (r) => r.sourcePrompt, read: str('sourcePrompt') },
  { key: 'Guide against', write: (r) => r.guideAgainst, read: str('guideAgainst') },
  {
    key: 'Share layers',
    write: (r) => r.shareLayers?.join(' '),
    read: (v) => ({ shareLayers: v.split(/\s+/).filter((s) => s !== '').map(Number) }),
  },
  { key: 'Share steps', write: (r) => r.shareSteps, read: num('shareSteps') },
  { key: 'Share text', write: (r) => r.shareText, read: bool('shareText') },
  { key: 'Shift', write: (r) => r.shift, read: num('shift') },
  { key: 'Auto mask', write: (r) => r.autoMask, read: num('autoMask') },
  { key: 'Mask', write: (r) => r.mask, read: str('mask') },
  { key: 'Mask grow', write: (r) => r.maskGrow, read: num('maskGrow') },
  { key: 'Mask feather', write: (r) => r.maskFeather, read: num('maskFeather') },
  { key: 'Mask bias', write: (r) => r.maskBias, read: num('maskBias') },
  { key: 'Invert mask', write: (r) => r.invertMask, read: bool('invertMask') },
  { key: 'Fit', write: (r) => r.fit, read: str('fit') },
  { key: 'Frames', write: (r) => r.frames, read: num('frames') },
  { key: 'FPS', write: (r) => r.fps, read: num('fps') },
  { key: 'Source', write: (r) => r.source, read: str('source') },
  { key: 'Command', write: (r) => r.command, read: str('command') },
  {
    key: 'Version',
    write: (r) => `flowedit ${r.flowedit}`,
    read: (v) => (v.startsWith('flowedit ') ? { flowedit: v.slice('flowedit '.length) } : {}),
  },
];

/** The commands whose first line is the target prompt (the others': their prompt). */
const TARGET_FIRST = new Set(['edit', 'swap']);

/** A value as the last line holds it: plain when nothing in it could be mistaken for the line's syntax, else a JSON string. */
export function quoteValue(text: string): string {
  const plain = text !== '' && !/[,:\n\r"]/.test(text) && text.trim() === text;
  return plain ? text : JSON.stringify(text);
}

/** A value read from the last line: a JSON string is decoded, anything else is taken as it is. */
export function unquoteValue(text: string): string {
  if (text.length < 2 || !text.startsWith('"') || !text.endsWith('"')) return text;
  try {
    return JSON.parse(text) as string;
  } catch {
    return text;
  }
}

/** The "parameters" text of an output record (see the module comment). */
export function parametersText(r: OutputRecord): string {
  const lines = [r.targetPrompt ?? r.prompt ?? ''];
  if (r.negativePrompt !== undefined) lines.push(`Negative prompt: ${r.negativePrompt}`);
  const pairs: string[] = [];
  for (const f of FIELDS) {
    const v = f.write(r);
    if (v !== undefined) pairs.push(`${f.key}: ${quoteValue(String(v))}`);
  }
  lines.push(pairs.join(', '));
  return lines.join('\n');
}

/** One "Key: value" pair of the last line: the key as other readers take it (a word, then words, spaces, - and /). */
const PAIR = /\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)/g;

/** The pairs of a last line, in order (a repeated key keeps its last value). */
function pairsOf(line: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of line.matchAll(PAIR)) {
    out.set(m[1]!.trim(), unquoteValue(m[2]!.trim()));
  }
  return out;
}

/**
 * Splits a parameters text as the convention's readers do: the last line is the pairs when it
 * holds at least three; "Negative prompt:" starts the negative prompt; every line before it is
 * the prompt.
 */
export function parseParameters(text: string): ParsedParameters {
  // the empty lines around it go (as other readers strip them); a prompt's own spaces stay
  const lines = text.replace(/^[\r\n]+/, '').replace(/\s+$/, '').split('\n');
  let last = lines[lines.length - 1] ?? '';
  let params = pairsOf(last);
  if (params.size < 3) {
    params = new Map();
    last = '';
  } else lines.pop();
  const prompt: string[] = [];
  const negative: string[] = [];
  let inNegative = false;
  for (const line of lines) {
    if (!inNegative && line.startsWith('Negative prompt:')) {
      inNegative = true;
      negative.push(line.slice('Negative prompt:'.length).trim());
    } else (inNegative ? negative : prompt).push(line);
  }
  return { prompt: prompt.join('\n'), ...(inNegative ? { negativePrompt: negative.join('\n') } : {}), params };
}

/**
 * The output record a parameters text written by flowedit describes, or undefined when the text
 * is not flowedit's (no "Version: flowedit …" and "Command" on its last line).
 */
export function recordFromParameters(text: string): OutputRecord | undefined {
  const parsed = parseParameters(text);
  const out: Record<string, unknown> = {};
  for (const f of FIELDS) {
    const v = parsed.params.get(f.key);
    if (v !== undefined) Object.assign(out, f.read(v));
  }
  if (typeof out.flowedit !== 'string' || typeof out.command !== 'string') return undefined;
  out[TARGET_FIRST.has(out.command) ? 'targetPrompt' : 'prompt'] = parsed.prompt;
  if (parsed.negativePrompt !== undefined) out.negativePrompt = parsed.negativePrompt;
  return out as unknown as OutputRecord;
}
