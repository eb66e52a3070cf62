/**
 * Reading back what made a file flowedit wrote: a PNG's text chunks, a clip's container tags, or
 * an inversion file's header. A file flowedit did not write is refused with NotFloweditFile.
 */
import { readFile, stat } from 'node:fs/promises';
import type { FfmpegTools } from '../../media/ffmpeg-tools.js';
import { readHead, sha256File } from '../../media/file-bytes.js';
import { readPngTextChunks } from '../../media/png-text.js';
import { isVideoPath, readContainerTags } from '../../media/video.js';
import { isInversionBuffer, readInversionHeader, type InversionHeader } from '../frames/inversion-file.js';
import type { OutputRecord } from './outputs.js';
import { recordFromParameters } from './parameters.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The commands whose outputs carry a record. */
export const RECORDED_COMMANDS = ['generate', 'edit', 'swap', 'reconstruct'] as const;

/** What a file flowedit wrote says about how it was made. */
export type OutputInfo =
  | {
      readonly kind: 'image' | 'video';
      readonly path: string;
      readonly record: OutputRecord;
      /** where the record was read: the JSON ("flowedit" chunk, "description" tag) or, without it, the parameters text */
      readonly from: 'json' | 'parameters';
    }
  | {
      readonly kind: 'inversion';
      readonly path: string;
      readonly header: InversionHeader;
      /** whether the source is still where the header says, with the same bytes */
      readonly source: 'unchanged' | 'changed' | 'missing';
    };

/** The file exists but flowedit did not write it (or its record was stripped). */
export class NotFloweditFile extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotFloweditFile';
  }
}

/** A record read from JSON, when it has the fields every record has. */
function recordFromJson(text: string | undefined): OutputRecord | undefined {
  if (text === undefined) return undefined;
  let r: unknown;
  try {
    r = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof r !== 'object' || r === null) return undefined;
  const o = r as Record<string, unknown>;
  const ok =
    (RECORDED_COMMANDS as readonly unknown[]).includes(o.command) &&
    typeof o.model === 'string' && typeof o.flowedit === 'string' && typeof o.steps === 'number' && typeof o.solver === 'string' && typeof o.seed === 'number';
  return ok ? (o as unknown as OutputRecord) : undefined;
}

/** The record of a PNG's chunks or a clip's tags: the JSON first, else the parameters text. */
function recordOf(json: string | undefined, parameters: string | undefined): { record: OutputRecord; from: 'json' | 'parameters' } | undefined {
  const fromJson = recordFromJson(json);
  if (fromJson) return { record: fromJson, from: 'json' };
  const fromText = parameters === undefined ? undefined : recordFromParameters(parameters);
  return fromText ? { record: fromText, from: 'parameters' } : undefined;
}

/**
 * Reads the settings a file flowedit wrote records. `tools` finds ffmpeg, asked only for a clip.
 * Throws NotFloweditFile for a file without them, and a plain Error for one that cannot be read.
 */
export async function readOutputInfo(path: string, tools?: () => Promise<FfmpegTools>): Promise<OutputInfo> {
  const st = await stat(path).catch(() => null);
  if (!st) throw new Error(`${path} not found`);
  if (!st.isFile()) throw new Error(`${path} is not a file`);
  const start = await readHead(path, 8);
  if (isInversionBuffer(start)) {
    const header = await readInversionHeader(path);
    const now = await sha256File(header.source.path).catch(() => null);
    return { kind: 'inversion', path, header, source: now === null ? 'missing' : now === header.source.sha256 ? 'unchanged' : 'changed' };
  }
  if (start.equals(PNG_SIGNATURE)) {
    const text = readPngTextChunks(await readFile(path));
    const found = recordOf(text.flowedit, text.parameters);
    if (!found) throw new NotFloweditFile(`flowedit did not write ${path}: the PNG has no flowedit settings (no "flowedit" text chunk, and no "parameters" chunk ending in "Version: flowedit …")`);
    return { kind: 'image', path, ...found };
  }
  if (isVideoPath(path)) {
    const tags = await readContainerTags(path, tools ? await tools() : undefined);
    const found = recordOf(tags.description, tags.comment);
    if (!found) throw new NotFloweditFile(`flowedit did not write ${path}: the clip has no flowedit settings in its metadata (no "description" or "comment" tag from flowedit)`);
    return { kind: 'video', path, ...found };
  }
  throw new NotFloweditFile(`flowedit did not write ${path}: it is not a PNG, a clip or an inversion file, the files flowedit writes`);
}
