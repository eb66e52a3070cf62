import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { deflateSync } from 'node:zlib';
import { encodePng, readImage, readPngComments } from '../../src/media/image.js';
import { addPngTextChunks, readPngTextChunks } from '../../src/media/png-text.js';
import { bytesToRgb, patternBytes, rawInput, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
let png: Buffer;
before(async () => {
  ({ dir, cleanup } = await tempDir());
  png = await encodePng(bytesToRgb(patternBytes(12, 7), 12, 7));
});
after(async () => {
  await cleanup();
});

/** Independent bitwise CRC-32 (ISO-HDLC), to check the chunk CRCs without zlib. */
function referenceCrc(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** The chunks of a PNG as {type, data}, checking every CRC on the way. */
function chunks(buf: Buffer): { type: string; data: Buffer }[] {
  const out: { type: string; data: Buffer }[] = [];
  let pos = 8;
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    assert.equal(buf.readUInt32BE(pos + 8 + len), referenceCrc(buf.subarray(pos + 4, pos + 8 + len)), `CRC of ${type}`);
    out.push({ type, data: buf.subarray(pos + 8, pos + 8 + len) });
    pos += 12 + len;
  }
  return out;
}

function rawChunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(referenceCrc(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** Inserts raw chunks right after IHDR (signature 8 bytes + IHDR 25 bytes). */
function insertAfterIhdr(buf: Buffer, ...extra: Buffer[]): Buffer {
  return Buffer.concat([buf.subarray(0, 33), ...extra, buf.subarray(33)]);
}

describe('addPngTextChunks / readPngTextChunks', () => {
  it('writes tEXt chunks right after IHDR with valid CRCs, readable by sharp', async () => {
    const entries = { prompt: 'a photo of a cat', 'flowedit:params': '{"steps":28,"strength":0.8}\nsecond line' };
    const out = addPngTextChunks(png, entries);
    const list = chunks(out);
    assert.deepEqual(
      list.slice(0, 3).map((c) => c.type),
      ['IHDR', 'tEXt', 'tEXt'],
    );
    assert.equal(list[1]?.data.toString('latin1'), 'prompt\0a photo of a cat');
    assert.equal(list.at(-1)?.type, 'IEND');
    assert.deepEqual(readPngTextChunks(out), entries);

    const path = join(dir, 'text.png');
    await writeFile(path, out);
    assert.deepEqual(await readPngComments(path), entries);
    // pixels are untouched
    const plain = join(dir, 'plain.png');
    await writeFile(plain, png);
    assert.deepEqual((await readImage(path)).data, (await readImage(plain)).data);
  });

  it('stores ASCII text as tEXt and any other text as UTF-8 iTXt', async () => {
    const entries = {
      ascii: 'plain ~ text {"a":[1]}',
      latin: 'Käse für 5 ¥, ±½',
      unicode: 'ein Kätzchen 🐱 日本語 — “quoted”',
    };
    const out = addPngTextChunks(png, entries);
    const list = chunks(out);
    assert.deepEqual(
      list.slice(1, 4).map((c) => c.type),
      ['tEXt', 'iTXt', 'iTXt'],
    );
    assert.deepEqual(list[2]?.data, Buffer.concat([Buffer.from('latin\0\0\0\0\0'), Buffer.from('Käse für 5 ¥, ±½', 'utf8')]));
    assert.deepEqual(readPngTextChunks(out), entries);
    const path = join(dir, 'unicode.png');
    await writeFile(path, out);
    assert.deepEqual(await readPngComments(path), entries);
  });

  it('replaces existing chunks with the same keyword and keeps others', () => {
    const first = addPngTextChunks(png, { a: 'one', b: 'two' });
    const second = addPngTextChunks(first, { a: 'three' });
    assert.deepEqual(readPngTextChunks(second), { a: 'three', b: 'two' });
    assert.equal(chunks(second).filter((c) => c.type === 'tEXt').length, 2);
  });

  it('returns an equal PNG when there is nothing to add', () => {
    assert.deepEqual(addPngTextChunks(png, {}), png);
    assert.deepEqual(readPngTextChunks(png), {});
  });

  it('reads Latin-1 tEXt written by other tools', () => {
    const latin = rawChunk('tEXt', Buffer.from('Autor\0Jürgen Müller', 'latin1'));
    assert.deepEqual(readPngTextChunks(insertAfterIhdr(png, latin)), { Autor: 'Jürgen Müller' });
  });

  it('keeps unusual keywords as plain data', () => {
    const out = addPngTextChunks(png, { ['__proto__']: 'x', constructor: 'y' });
    const read = readPngTextChunks(out);
    assert.equal(Object.getPrototypeOf(read), Object.prototype);
    assert.deepEqual(Object.keys(read).sort(), ['__proto__', 'constructor'].sort());
  });

  it('reads compressed zTXt and iTXt chunks too', () => {
    const z = rawChunk('zTXt', Buffer.concat([Buffer.from('zkey\0\0', 'latin1'), deflateSync(Buffer.from('zipped', 'latin1'))]));
    const i = rawChunk(
      'iTXt',
      Buffer.concat([Buffer.from('ikey\0\x01\x00en\0Schluessel\0', 'latin1'), deflateSync(Buffer.from('komprimiert ✓', 'utf8'))]),
    );
    assert.deepEqual(readPngTextChunks(insertAfterIhdr(png, z, i)), { zkey: 'zipped', ikey: 'komprimiert ✓' });
  });

  it('skips text chunks with a bad CRC', () => {
    const bad = rawChunk('tEXt', Buffer.from('k\0v', 'latin1'));
    bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 0xff;
    const good = rawChunk('tEXt', Buffer.from('ok\0yes', 'latin1'));
    assert.deepEqual(readPngTextChunks(insertAfterIhdr(png, bad, good)), { ok: 'yes' });
  });

  it('validates keywords and text', () => {
    assert.throws(() => addPngTextChunks(png, { '': 'x' }), /1 to 79 characters/);
    assert.throws(() => addPngTextChunks(png, { ['k'.repeat(80)]: 'x' }), /1 to 79 characters long but .* has 80/);
    assert.doesNotThrow(() => addPngTextChunks(png, { ['k'.repeat(79)]: 'x' }));
    assert.throws(() => addPngTextChunks(png, { 'a\0b': 'x' }), /printable Latin-1/);
    assert.throws(() => addPngTextChunks(png, { 'schlüssel✓': 'x' }), /printable Latin-1/);
    assert.throws(() => addPngTextChunks(png, { key: 'a\0b' }), /must not contain NUL/);
  });

  it('rejects data that is not a PNG', async () => {
    const message = 'Not a PNG file: the data does not start with the PNG signature';
    assert.throws(() => readPngTextChunks(Buffer.from('hello')), { message });
    assert.throws(() => addPngTextChunks(Buffer.alloc(0), { a: 'b' }), { message });
    const jpeg = await rawInput(patternBytes(4, 4), 4, 4).jpeg().toBuffer();
    assert.throws(() => readPngTextChunks(jpeg), { message });
  });

  it('rejects a truncated PNG', () => {
    assert.throws(() => readPngTextChunks(png.subarray(0, 40)), /Corrupt PNG/);
  });
});
