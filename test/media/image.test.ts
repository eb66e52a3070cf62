import assert from 'node:assert/strict';
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  byteToFloat,
  encodePng,
  floatToByte,
  imageSize,
  readImage,
  readPngComments,
  resizeImage,
} from '../../src/media/image.js';
import type { RgbImage } from '../../src/media/image.js';
import {
  bytesToRgb,
  decodeBytes,
  maxAbsDiff,
  patternBytes,
  psnr,
  rawInput,
  smoothBytes,
  tempDir,
  write16BitPng,
} from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
before(async () => {
  ({ dir, cleanup } = await tempDir());
});
after(async () => {
  await cleanup();
});

function pixel(img: RgbImage, x: number, y: number): [number, number, number] {
  const plane = img.width * img.height;
  const i = y * img.width + x;
  return [img.data[i] as number, img.data[plane + i] as number, img.data[2 * plane + i] as number];
}

describe('value conversion', () => {
  it('maps 0 and 255 to -1 and 1 and round-trips every byte', () => {
    assert.equal(byteToFloat(0), -1);
    assert.equal(byteToFloat(255), 1);
    for (let b = 0; b < 256; b++) assert.equal(floatToByte(Math.fround(byteToFloat(b))), b);
  });

  it('clamps out-of-range floats', () => {
    assert.equal(floatToByte(-3), 0);
    assert.equal(floatToByte(7), 255);
  });
});

describe('readImage', () => {
  const w = 23;
  const h = 17;
  const bytes = patternBytes(w, h);

  it('reads a PNG exactly, planar, in [-1, 1]', async () => {
    const path = join(dir, 'pattern.png');
    await rawInput(bytes, w, h).png().toFile(path);
    const img = await readImage(path);
    assert.equal(img.width, w);
    assert.equal(img.height, h);
    assert.ok(img.data instanceof Float32Array);
    assert.equal(img.data.length, 3 * w * h);
    assert.deepEqual(img.data, bytesToRgb(bytes, w, h).data);
    let min = Infinity;
    let max = -Infinity;
    for (const v of img.data) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    assert.equal(min, -1);
    assert.equal(max, 1);
    // planar layout: pixel (0, 0) is R=0, G=255
    assert.deepEqual(pixel(img, 0, 0).slice(0, 2), [-1, 1]);
  });

  it('reads a lossless WebP exactly', async () => {
    const path = join(dir, 'pattern.webp');
    await rawInput(bytes, w, h).webp({ lossless: true }).toFile(path);
    const img = await readImage(path);
    assert.deepEqual(img.data, bytesToRgb(bytes, w, h).data);
  });

  it('reads a lossy WebP and a JPEG close to the source', async () => {
    const sw = 64;
    const sh = 48;
    const smooth = smoothBytes(sw, sh);
    const expected = bytesToRgb(smooth, sw, sh);
    for (const [name, encode] of [
      ['smooth.webp', (s: ReturnType<typeof rawInput>) => s.webp({ quality: 95 })],
      ['smooth.jpg', (s: ReturnType<typeof rawInput>) => s.jpeg({ quality: 95 })],
    ] as const) {
      const path = join(dir, name);
      await encode(rawInput(smooth, sw, sh)).toFile(path);
      const img = await readImage(path);
      assert.equal(img.width, sw);
      assert.equal(img.height, sh);
      for (const v of img.data) assert.ok(v >= -1 && v <= 1);
      const db = psnr(img, expected);
      assert.ok(db > 30, `${name}: PSNR ${db.toFixed(1)} dB`);
    }
  });

  it('applies EXIF orientation', async () => {
    // 4x2 image: left half black, right half white; orientation 6 = rotate 90° clockwise.
    const bw = new Uint8Array(4 * 2 * 3);
    for (let y = 0; y < 2; y++) for (let x = 2; x < 4; x++) bw.fill(255, (y * 4 + x) * 3, (y * 4 + x) * 3 + 3);
    const path = join(dir, 'rotated.jpg');
    await rawInput(bw, 4, 2).jpeg({ quality: 100 }).withMetadata({ orientation: 6 }).toFile(path);
    const img = await readImage(path);
    assert.equal(img.width, 2);
    assert.equal(img.height, 4);
    // after rotating clockwise, the black left half is on top
    assert.ok(pixel(img, 0, 0)[0] < -0.8);
    assert.ok(pixel(img, 1, 3)[0] > 0.8);
    assert.deepEqual(await imageSize(path), { width: 2, height: 4, format: 'jpeg' });
  });

  it('flattens transparency onto white', async () => {
    // opaque red, transparent blue, half-transparent black
    const rgba = new Uint8Array([255, 0, 0, 255, 0, 0, 255, 0, 0, 0, 0, 102]);
    const path = join(dir, 'alpha.png');
    await rawInput(rgba, 3, 1, 4).png().toFile(path);
    const img = await readImage(path);
    assert.equal(img.data.length, 9);
    assert.deepEqual(pixel(img, 0, 0), [1, -1, -1]);
    assert.deepEqual(pixel(img, 1, 0), [1, 1, 1]);
    const grey = Math.fround((255 * (1 - 102 / 255)) / 127.5 - 1); // 0·0.4 + 255·0.6
    for (const v of pixel(img, 2, 0)) assert.ok(Math.abs(v - grey) < 1e-6);
  });

  it('flattens 16-bit transparency onto exact white', async () => {
    const rgba = new Uint16Array([0, 0, 65535, 0, 1000, 2000, 3000, 65535]);
    const path = join(dir, 'alpha16.png');
    await write16BitPng(rgba, 2, 1, path, 4);
    const img = await readImage(path);
    assert.deepEqual(pixel(img, 0, 0), [1, 1, 1]);
    assert.ok(maxAbsDiff(pixel(img, 1, 0), [1000, 2000, 3000].map((v) => v / 32767.5 - 1)) < 1e-6);
  });

  it('expands greyscale to RGB', async () => {
    const grey = new Uint8Array([0, 51, 255, 102]);
    const path = join(dir, 'grey.png');
    await rawInput(grey, 2, 2, 1).png().toFile(path);
    const img = await readImage(path);
    assert.equal(img.data.length, 12);
    grey.forEach((g, i) => {
      const [r, gg, b] = pixel(img, i % 2, Math.floor(i / 2));
      assert.equal(r, Math.fround(g / 127.5 - 1));
      assert.equal(gg, r);
      assert.equal(b, r);
    });
  });

  it('keeps the precision of 16-bit PNGs', async () => {
    const values = new Uint16Array([0, 1, 32768, 65535, 1000, 40000]);
    const path = join(dir, 'deep.png');
    await write16BitPng(values, 2, 1, path);
    const img = await readImage(path);
    // planar: R of both pixels, then G, then B
    const expected = [0, 65535, 1, 1000, 32768, 40000].map((v) => (v * 2) / 65535 - 1);
    assert.ok(maxAbsDiff(img.data, expected) < 1e-6);
    // 0 and 1 differ by far less than one 8-bit step, and must stay distinct
    assert.notEqual(img.data[0], img.data[2]);
  });

  it('says clearly when the file is missing', async () => {
    const path = join(dir, 'nope.png');
    await assert.rejects(readImage(path), { message: `Input image not found: ${path}` });
    await assert.rejects(imageSize(path), { message: `Input image not found: ${path}` });
    await assert.rejects(readPngComments(path), { message: `Input image not found: ${path}` });
  });

  it('says clearly when the file is not an image', async () => {
    const path = join(dir, 'notes.png');
    await writeFile(path, 'this is not an image\n');
    const prefix = `Cannot read ${path} as an image (expected PNG, JPEG or WebP): `;
    for (const read of [readImage, imageSize, readPngComments]) {
      await assert.rejects(read(path), (err: Error) => {
        assert.ok(err.message.startsWith(prefix), err.message);
        assert.ok(err.message.length > prefix.length, 'includes the decoder reason');
        return true;
      });
    }
  });

  it('says clearly when the path is a directory', async () => {
    const path = join(dir, 'a-directory.png');
    await mkdir(path);
    await assert.rejects(readImage(path), {
      message: `Cannot read ${path} as an image (expected PNG, JPEG or WebP): it is a directory`,
    });
  });
});

describe('encodePng', () => {
  it('round-trips 8-bit content exactly', async () => {
    const w = 31;
    const h = 9;
    const bytes = patternBytes(w, h);
    const src = join(dir, 'src.png');
    await rawInput(bytes, w, h).png().toFile(src);
    const img = await readImage(src);
    const png = await encodePng(img);
    assert.deepEqual(png.subarray(1, 4).toString('latin1'), 'PNG');
    const decoded = await decodeBytes(png);
    assert.equal(decoded.width, w);
    assert.equal(decoded.height, h);
    assert.deepEqual(new Uint8Array(decoded.data), bytes);
    const out = join(dir, 'again.png');
    await writeFile(out, png);
    assert.deepEqual((await readImage(out)).data, img.data);
  });

  it('treats NaN as -1 when encoding and resizing', async () => {
    const img: RgbImage = { width: 1, height: 1, data: new Float32Array([Number.NaN, 0, 1]) };
    assert.deepEqual(Array.from((await decodeBytes(await encodePng(img))).data), [0, 128, 255]);
    const resized = await resizeImage(img, 2, 2);
    assert.deepEqual(Array.from(resized.data.subarray(0, 4)), [-1, -1, -1, -1]);
  });

  it('clamps and rounds', async () => {
    const img: RgbImage = { width: 2, height: 1, data: new Float32Array([-5, 5, 0, 0.004, 2, -2]) };
    const decoded = await decodeBytes(await encodePng(img));
    // planar R = [-5, 5], G = [0, 0.004], B = [2, -2]
    assert.deepEqual(Array.from(decoded.data), [0, 128, 255, 255, 128, 0]);
  });

  it('rejects malformed images', async () => {
    await assert.rejects(encodePng({ width: 2, height: 2, data: new Float32Array(5) }), /3 x 2 x 2 = 12/);
    await assert.rejects(encodePng({ width: 0, height: 2, data: new Float32Array(0) }), {
      message: 'Expected a positive integer for image width but received 0',
    });
  });
});

describe('imageSize', () => {
  it('reports size and format of PNG, JPEG and WebP', async () => {
    const bytes = smoothBytes(40, 30);
    await rawInput(bytes, 40, 30).png().toFile(join(dir, 's.png'));
    await rawInput(bytes, 40, 30).jpeg().toFile(join(dir, 's.jpg'));
    await rawInput(bytes, 40, 30).webp().toFile(join(dir, 's.webp'));
    assert.deepEqual(await imageSize(join(dir, 's.png')), { width: 40, height: 30, format: 'png' });
    assert.deepEqual(await imageSize(join(dir, 's.jpg')), { width: 40, height: 30, format: 'jpeg' });
    assert.deepEqual(await imageSize(join(dir, 's.webp')), { width: 40, height: 30, format: 'webp' });
  });
});

describe('resizeImage', () => {
  it('resizes to the exact size and keeps a constant image constant', async () => {
    const w = 20;
    const h = 10;
    const data = new Float32Array(3 * w * h);
    data.fill(-0.5, 0, w * h);
    data.fill(0.25, w * h, 2 * w * h);
    data.fill(0.75, 2 * w * h);
    for (const [tw, th] of [
      [33, 7],
      [40, 20],
      [3, 2],
    ] as const) {
      const out = await resizeImage({ width: w, height: h, data }, tw, th);
      assert.equal(out.width, tw);
      assert.equal(out.height, th);
      assert.equal(out.data.length, 3 * tw * th);
      const plane = tw * th;
      for (let i = 0; i < plane; i++) {
        assert.ok(Math.abs((out.data[i] as number) + 0.5) < 1e-4);
        assert.ok(Math.abs((out.data[plane + i] as number) - 0.25) < 1e-4);
        assert.ok(Math.abs((out.data[2 * plane + i] as number) - 0.75) < 1e-4);
      }
    }
  });

  it('keeps precision finer than one 8-bit step', async () => {
    // 0.002 lies between two 8-bit levels (0 and 0.0078); an 8-bit pipeline would be 0.002 off.
    const data = new Float32Array(3 * 12 * 12).fill(0.002);
    const out = await resizeImage({ width: 12, height: 12, data }, 29, 5);
    for (const v of out.data) assert.ok(Math.abs(v - 0.002) < 1e-4, String(v));
  });

  it('upscales and downscales a smooth image with little loss, staying in range', async () => {
    const w = 32;
    const h = 24;
    const data = new Float32Array(3 * w * h);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) data[(c * h + y) * w + x] = 0.9 * Math.sin(x / 6 + c) * Math.cos(y / 5);
      }
    }
    const img = { width: w, height: h, data };
    const back = await resizeImage(await resizeImage(img, 64, 48), w, h);
    const db = psnr(back, img);
    assert.ok(db > 35, `PSNR ${db.toFixed(1)} dB`);
    const hard = new Float32Array(3 * 16 * 16).map((_, i) => (i % 2 ? 1 : -1));
    const ringing = await resizeImage({ width: 16, height: 16, data: hard }, 37, 29);
    for (const v of ringing.data) assert.ok(v >= -1 && v <= 1);
  });

  it('returns a copy at the same size', async () => {
    const img = bytesToRgb(patternBytes(5, 4), 5, 4);
    const same = await resizeImage(img, 5, 4);
    assert.notEqual(same.data, img.data);
    assert.deepEqual(same.data, img.data);
    assert.equal(maxAbsDiff(same.data, img.data), 0);
  });

  it('validates the target size', async () => {
    const img = bytesToRgb(patternBytes(5, 4), 5, 4);
    await assert.rejects(resizeImage(img, 0, 4), { message: 'Expected a positive integer for width but received 0' });
    await assert.rejects(resizeImage(img, 4, 2.5), {
      message: 'Expected a positive integer for height but received 2.5',
    });
  });
});
