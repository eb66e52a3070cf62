/**
 * Reading and writing PNG text chunks (tEXt / iTXt) directly on the encoded bytes, so that
 * edit parameters can be stored inside output images without re-encoding them.
 */
import { crc32, inflateSync } from 'node:zlib';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const TEXT_TYPES = new Set(['tEXt', 'zTXt', 'iTXt']);

interface Chunk {
  type: string;
  /** Offset of the chunk's length field. */
  start: number;
  /** Offset just past the chunk's CRC. */
  end: number;
  data: Buffer;
  crcOk: boolean;
}

function assertPng(png: Buffer): void {
  if (png.length < PNG_SIGNATURE.length || !png.subarray(0, PNG_SIGNATURE.length).equals(PNG_SIGNATURE)) {
    throw new Error('Not a PNG file: the data does not start with the PNG signature');
  }
}

/** Splits a PNG into its chunks, up to and including IEND. */
function parseChunks(png: Buffer): Chunk[] {
  assertPng(png);
  const chunks: Chunk[] = [];
  let pos = PNG_SIGNATURE.length;
  while (pos < png.length) {
    if (pos + 12 > png.length) {
      throw new Error(`Corrupt PNG: truncated chunk header at byte ${pos}`);
    }
    const length = png.readUInt32BE(pos);
    const type = png.toString('latin1', pos + 4, pos + 8);
    const end = pos + 12 + length;
    if (length > 0x7fffffff || end > png.length) {
      throw new Error(`Corrupt PNG: chunk ${JSON.stringify(type)} at byte ${pos} runs past the end of the data`);
    }
    const data = png.subarray(pos + 8, pos + 8 + length);
    const crc = png.readUInt32BE(pos + 8 + length);
    const crcOk = crc32(png.subarray(pos + 4, pos + 8 + length)) === crc;
    chunks.push({ type, start: pos, end, data, crcOk });
    pos = end;
    if (type === 'IEND') break;
  }
  if (chunks[0]?.type !== 'IHDR') {
    throw new Error('Corrupt PNG: the first chunk is not IHDR');
  }
  return chunks;
}

function makeChunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7f) return false;
  }
  return true;
}

function checkKeyword(keyword: string): void {
  if (keyword.length < 1 || keyword.length > 79) {
    throw new Error(
      `PNG text keyword must be 1 to 79 characters long but ${JSON.stringify(keyword)} has ${keyword.length}`,
    );
  }
  for (let i = 0; i < keyword.length; i++) {
    const c = keyword.charCodeAt(i);
    if (!((c >= 0x20 && c <= 0x7e) || (c >= 0xa1 && c <= 0xff))) {
      throw new Error(
        `PNG text keyword ${JSON.stringify(keyword)} contains ${JSON.stringify(keyword[i])}; use printable Latin-1 characters only`,
      );
    }
  }
}

/** The keyword of a tEXt, zTXt or iTXt chunk (the bytes before the first NUL). */
function chunkKeyword(data: Buffer): string {
  const nul = data.indexOf(0);
  return data.toString('latin1', 0, nul < 0 ? data.length : nul);
}

function encodeTextChunk(keyword: string, text: string): Buffer {
  if (text.includes('\0')) {
    throw new Error(`PNG text for keyword ${JSON.stringify(keyword)} must not contain NUL characters`);
  }
  // tEXt is Latin-1 by the PNG specification, but libvips (and so sharp) and several other
  // readers decode it as UTF-8, which garbles characters 0x80-0xFF. Only ASCII reads the same
  // either way, so any other text goes into an iTXt chunk, which is UTF-8 by definition.
  if (isAscii(text)) {
    return makeChunk('tEXt', Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0]), Buffer.from(text, 'latin1')]));
  }
  // iTXt: keyword, NUL, compression flag 0, compression method 0, empty language tag + NUL,
  // empty translated keyword + NUL, UTF-8 text.
  return makeChunk(
    'iTXt',
    Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0, 0, 0, 0, 0]), Buffer.from(text, 'utf8')]),
  );
}

/**
 * Returns a copy of `png` with one text chunk per entry inserted right after IHDR.
 * ASCII text is stored as tEXt; any other text (Latin-1 accents included) as an uncompressed
 * UTF-8 iTXt chunk, because common decoders, sharp among them, misread non-ASCII tEXt. Existing text chunks with the same keywords are removed, so each
 * keyword ends up with exactly the new value. Keywords must be 1 to 79 printable Latin-1
 * characters; text must not contain NUL.
 */
export function addPngTextChunks(png: Buffer, entries: Record<string, string>): Buffer {
  const chunks = parseChunks(png);
  const keys = Object.keys(entries);
  const fresh: Buffer[] = [];
  for (const key of keys) {
    checkKeyword(key);
    fresh.push(encodeTextChunk(key, entries[key] as string));
  }
  const replaced = new Set(keys);
  const parts: Buffer[] = [PNG_SIGNATURE];
  for (const chunk of chunks) {
    if (TEXT_TYPES.has(chunk.type) && replaced.has(chunkKeyword(chunk.data))) continue;
    parts.push(png.subarray(chunk.start, chunk.end));
    if (chunk.type === 'IHDR') parts.push(...fresh);
  }
  return Buffer.concat(parts);
}

/** Sets a key as an own property, so that keywords such as `__proto__` are kept as data. */
function setEntry(out: Record<string, string>, key: string, value: string): void {
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
}

function decodeTextChunk(chunk: Chunk): [string, string] | undefined {
  const { data } = chunk;
  const nul = data.indexOf(0);
  if (nul < 1) return undefined;
  const keyword = data.toString('latin1', 0, nul);
  if (chunk.type === 'tEXt') {
    return [keyword, data.toString('latin1', nul + 1)];
  }
  if (chunk.type === 'zTXt') {
    if (data[nul + 1] !== 0) return undefined;
    return [keyword, inflateSync(data.subarray(nul + 2)).toString('latin1')];
  }
  // iTXt
  const compressed = data[nul + 1];
  const method = data[nul + 2];
  const langEnd = data.indexOf(0, nul + 3);
  if (langEnd < 0) return undefined;
  const translatedEnd = data.indexOf(0, langEnd + 1);
  if (translatedEnd < 0) return undefined;
  let text = data.subarray(translatedEnd + 1);
  if (compressed === 1) {
    if (method !== 0) return undefined;
    text = inflateSync(text);
  } else if (compressed !== 0) {
    return undefined;
  }
  return [keyword, text.toString('utf8')];
}

/**
 * Reads the tEXt, iTXt (and zTXt) chunks of a PNG as keyword → text. Chunks with a bad CRC
 * or a malformed layout are skipped; when a keyword repeats, the last chunk wins.
 * Throws if the data is not a PNG.
 */
export function readPngTextChunks(png: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  for (const chunk of parseChunks(png)) {
    if (!TEXT_TYPES.has(chunk.type) || !chunk.crcOk) continue;
    let entry: [string, string] | undefined;
    try {
      entry = decodeTextChunk(chunk);
    } catch {
      entry = undefined; // undecompressable data: skip the chunk like a bad CRC
    }
    if (entry) setEntry(out, entry[0], entry[1]);
  }
  return out;
}
