/**
 * A FLUX.1 pack (format 2: two text encoders, T5's sequence and CLIP's pooled vector; joint text;
 * distilled guidance; 2×2 latent packing; double- and single-stream layer groups) through the
 * command line on a real photo, with each of the papers' presets: invert and edit with
 * rf-solver-edit, fireflow and contextflow, swap --mask with kv-edit. The pack is the tiny
 * random-weight export of python/flowedit_export (test/fixtures/packs/flux-tiny), so outputs mean
 * nothing; what is checked is that every command runs the pack's contract end to end with the
 * preset's settings, keeps the photo's size, and that kv-edit keeps the photo outside the mask.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { readInversion } from '../../src/edit/frames/inversion-file.js';
import { findFfmpeg } from '../../src/media/ffmpeg-tools.js';
import { readImage } from '../../src/media/image.js';
import { MEDIA, ROOT, tempDir } from '../paths.js';
import { assertCleanFailure, flowedit as runCli, type Result } from './run.js';

const run = promisify(execFile);
export const FLUX_TINY = join(ROOT, 'test/fixtures/packs/flux-tiny');

function flowedit(args: string[]): Promise<Result> {
  return runCli([...args, '--model', FLUX_TINY]);
}

let dir: string;
let photo: string;
const MASK = join(MEDIA, 'vace-test2-mask.png');
before(async () => {
  const tools = await findFfmpeg();
  dir = await tempDir('flowedit-flux-cli-');
  // the first frame of the real clip: a 512×768 photo, with its object mask
  photo = join(dir, 'photo.png');
  await run(tools.ffmpeg, ['-v', 'error', '-i', join(MEDIA, 'vace-test2.mp4'), '-frames:v', '1', photo]);
});

const SOURCE = 'a woman in a dress dances in a room';
const TARGET = 'a woman in a red dress dances in a room';

async function assertPhotoSize(path: string): Promise<void> {
  const img = await readImage(path);
  assert.deepEqual([img.width, img.height], [512, 768], path);
}

// each preset's step count (contextflow leaves it to the pack: 28 for FLUX.1 [dev])
const STEPS: Record<string, number> = { 'rf-solver-edit': 25, fireflow: 8, contextflow: 28 };

// The commands are independent of one another (each writes its own files): two run at a time.
describe('FLUX.1 pack on the command line', { concurrency: 2 }, () => {
  for (const preset of Object.keys(STEPS)) {
    test(`FLUX.1 pack: invert and edit a photo with the ${preset} preset`, async () => {
      const inv = join(dir, `${preset}.flowinv`);
      const r1 = await flowedit(['invert', photo, '--preset', preset, '--source-prompt', SOURCE, '-o', inv, '-q']);
      assert.equal(r1.code, 0, r1.stderr);
      const header = (await readInversion(inv)).header;
      const out = join(dir, `${preset}.png`);
      const r2 = await flowedit(['edit', inv, '--preset', preset, '--target-prompt', TARGET, '-o', out, '-q']);
      assert.equal(r2.code, 0, r2.stderr);
      await assertPhotoSize(out);
      assert.equal(header.ts.length - 1, STEPS[preset], 'the inversion ran the preset\'s steps');
    });
  }

  test('FLUX.1 pack: swap --mask with the kv-edit preset keeps the photo outside the mask', async () => {
    const out = join(dir, 'kv-edit.png');
    const r = await flowedit(['swap', photo, '--mask', MASK, '--preset', 'kv-edit', '--source-prompt', SOURCE, '--target-prompt', 'a robot dances in a room', '-o', out, '-q']);
    assert.equal(r.code, 0, r.stderr);
    await assertPhotoSize(out);
    const [src, got, mask] = [await readImage(photo), await readImage(out), await readImage(MASK)];
    const plane = 512 * 768;
    let se = 0;
    let n = 0;
    let changed = 0;
    for (let j = 0; j < plane; j++) {
      const inside = mask.data[j]! > 0;
      for (let c = 0; c < 3; c++) {
        const d = src.data[c * plane + j]! - got.data[c * plane + j]!;
        if (!inside) {
          se += d * d;
          n++;
        } else if (Math.abs(d) > 0.1) changed++;
      }
    }
    const db = 10 * Math.log10(4 / Math.max(se / n, 1e-12));
    assert.ok(db >= 40, `PSNR outside the mask ${db.toFixed(1)} dB`);
    assert.ok(changed > 0, 'inside the mask the photo changed');
  });

  test('FLUX.1 pack: kv-edit without a mask is refused with what to add', async () => {
    const r = await flowedit(['swap', photo, '--preset', 'kv-edit', '--target-prompt', 'a robot', '-o', join(dir, 'never.png')]);
    assertCleanFailure(r, /--mask/);
  });
});
