import { isAbsolute } from 'node:path';
import { readOutputInfo, type OutputInfo } from '../../edit/records/output-info.js';
import { commandLine, reproduce } from '../../edit/records/reproduce.js';
import { findFfmpeg } from '../../media/ffmpeg-tools.js';
import { builtinPackDir } from '../../model/builtin.js';
import { readPack } from '../../model/pack.js';
import type { GlobalArgs } from '../options.js';
import { userCheck } from './common.js';

export interface InfoArgs extends GlobalArgs {
  file: string;
  json: boolean;
  ffmpeg: string | undefined;
}

/** The settings as JSON gives them: an output's record, or an inversion's header without its schedule. */
function settingsOf(info: OutputInfo): Record<string, unknown> {
  if (info.kind !== 'inversion') return { ...info.record };
  const { ts: _ts, ...header } = info.header;
  return { ...header, sourceState: info.source };
}

/** The rows a person reads: an inversion's header flattened to its settings and its source. */
function rowsOf(info: OutputInfo): [string, unknown][] {
  if (info.kind !== 'inversion') {
    const skip = new Set(['command', 'model', 'flowedit']);
    return Object.entries(info.record).filter(([k, v]) => !skip.has(k) && v !== undefined);
  }
  const h = info.header;
  const rows: [string, unknown][] = [
    ['sourcePrompt', h.settings.sourcePrompt],
    ['steps', h.settings.steps],
    ['solver', h.settings.solver],
    ['shift', h.settings.shift],
    ['fit', h.fit.mode],
    ['source', h.source.path],
    ['sourceSize', `${h.source.width}x${h.source.height}`],
    ['sourceSha256', h.source.sha256],
    ['sourceState', info.source],
    ['frames', h.clip?.frames],
    ['fps', h.clip ? Math.round((h.clip.rate.num / h.clip.rate.den) * 1000) / 1000 : undefined],
    ['windows', h.clip?.windows.map((w) => `${w.start}+${w.length}`).join(' ')],
    ['latentShape', h.latentShape],
    ['calls', h.calls],
  ];
  return rows.filter(([, v]) => v !== undefined);
}

function shown(v: unknown): string {
  if (Array.isArray(v)) return v.join(',');
  if (typeof v === 'object' && v !== null) return JSON.stringify(v);
  return String(v);
}

function describe(info: OutputInfo): string {
  if (info.kind === 'inversion') {
    const h = info.header;
    const clip = h.clip ? `, a clip of ${h.clip.frames} frames in ${h.clip.windows.length} window${h.clip.windows.length > 1 ? 's' : ''}` : '';
    return `${info.path}: an inversion file (flowedit ${h.flowedit}, pack ${h.modelId}${clip}); its source ${h.source.path} is ${info.source === 'unchanged' ? 'there, unchanged' : info.source === 'changed' ? 'there but CHANGED since' : `MISSING${isAbsolute(h.source.path) ? '' : ' (a relative path is read from the current folder)'}`}`;
  }
  const r = info.record;
  const from = info.from === 'parameters' ? ' (read from its parameters text)' : '';
  return `${info.path}: a ${info.kind === 'image' ? 'PNG' : 'clip'} written by flowedit ${r.flowedit} (${r.command}, pack ${r.model})${from}`;
}

export async function infoAction(a: InfoArgs): Promise<void> {
  const info = await userCheck(() => readOutputInfo(a.file, () => findFfmpeg(a.ffmpeg)));
  const builtin = await readPack(builtinPackDir()).then((p) => p.manifest.id, () => undefined);
  const again = await userCheck(() => reproduce(info, builtin !== undefined ? { builtinModel: builtin } : {}));
  const settings = settingsOf(info);
  if (a.json) {
    const out = { file: info.path, kind: info.kind, ...(info.kind !== 'inversion' ? { from: info.from } : {}), settings, command: commandLine(again), commands: again.commands, notes: again.notes };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  const rows = rowsOf(info);
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = [describe(info), ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${shown(v)}`), 'made again by:', `  ${commandLine(again)}`, ...again.notes.map((n) => `note: ${n}`)];
  process.stdout.write(`${lines.join('\n')}\n`);
}
