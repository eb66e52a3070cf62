import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fitImage, isIdentityPlan, planFit, restoreImage, restorePlane } from '../../src/media/fit.js';
import type { FitPlan } from '../../src/media/fit.js';
import { readImage } from '../../src/media/image.js';
import type { RgbImage } from '../../src/media/image.js';
import { bytesToRgb, maxAbsDiff, patternBytes, psnr, rawInput, smoothBytes, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
before(async () => {
  ({ dir, cleanup } = await tempDir());
});
after(async () => {
  await cleanup();
});

function at(img: RgbImage, c: number, x: number, y: number): number {
  return img.data[c * img.width * img.height + y * img.width + x] as number;
}

describe('planFit', () => {
  it('rounds to the nearest multiple in resize mode', () => {
    assert.deepEqual(planFit(100, 60, { multiple: 16, mode: 'resize' }), {
      mode: 'resize',
      sourceWidth: 100,
      sourceHeight: 60,
      workWidth: 96,
      workHeight: 64,
      contentWidth: 100,
      contentHeight: 60,
    });
    // never below one multiple
    const tiny = planFit(5, 3, { multiple: 16, mode: 'resize' });
    assert.equal(tiny.workWidth, 16);
    assert.equal(tiny.workHeight, 16);
  });

  it('pads up to the next multiple in pad mode', () => {
    assert.deepEqual(planFit(100, 60, { multiple: 16, mode: 'pad' }), {
      mode: 'pad',
      sourceWidth: 100,
      sourceHeight: 60,
      workWidth: 112,
      workHeight: 64,
      contentWidth: 100,
      contentHeight: 60,
    });
  });

  it('scales the content down to maxPixels keeping the aspect ratio', () => {
    const pad = planFit(2000, 1000, { multiple: 16, maxPixels: 500_000, mode: 'pad' });
    assert.equal(pad.contentWidth, 1000);
    assert.equal(pad.contentHeight, 500);
    assert.equal(pad.workWidth, 1008);
    assert.equal(pad.workHeight, 512);
    const resize = planFit(2000, 1000, { multiple: 16, maxPixels: 500_000, mode: 'resize' });
    assert.equal(resize.workWidth, 1008);
    assert.equal(resize.workHeight, 496);
    for (const [w, h, max] of [
      [4000, 3000, 1_048_576],
      [1234, 5678, 262_144],
      [100_000, 3, 1024],
      [3, 100_000, 1024],
    ] as const) {
      const p = planFit(w, h, { multiple: 8, maxPixels: max, mode: 'pad' });
      assert.ok(p.contentWidth * p.contentHeight <= max, `${w}x${h}`);
      assert.ok(p.contentWidth >= 1 && p.contentHeight >= 1);
      assert.equal(p.workWidth % 8, 0);
      assert.equal(p.workHeight % 8, 0);
      if (p.contentWidth > 10 && p.contentHeight > 10) {
        assert.ok(Math.abs(p.contentWidth / p.contentHeight - w / h) / (w / h) < 0.02, 'aspect kept');
      }
    }
  });

  it('leaves an image within budget unscaled', () => {
    const p = planFit(640, 480, { multiple: 16, maxPixels: 640 * 480, mode: 'pad' });
    assert.equal(p.contentWidth, 640);
    assert.equal(p.contentHeight, 480);
    assert.ok(isIdentityPlan(p));
  });

  it('does not scale down when rounding would give the source size back', () => {
    const p = planFit(1024, 1024, { multiple: 16, maxPixels: 1024 * 1024 - 1, mode: 'pad' });
    assert.deepEqual([p.contentWidth, p.contentHeight, p.workWidth, p.workHeight], [1024, 1024, 1024, 1024]);
  });

  it('validates its options', () => {
    assert.throws(() => planFit(10, 10, { multiple: 1.5, mode: 'pad' }), {
      message: 'Expected a positive integer for multiple but received 1.5',
    });
    assert.throws(() => planFit(10, 10, { multiple: 0, mode: 'pad' }), {
      message: 'Expected a positive integer for multiple but received 0',
    });
    assert.throws(() => planFit(0, 10, { multiple: 8, mode: 'pad' }), {
      message: 'Expected a positive integer for width but received 0',
    });
    assert.throws(() => planFit(10, Number.NaN, { multiple: 8, mode: 'pad' }), {
      message: 'Expected a positive integer for height but received NaN',
    });
    assert.throws(() => planFit(10, 10, { multiple: 8, maxPixels: -1, mode: 'pad' }), {
      message: 'Expected a positive integer for maxPixels but received -1',
    });
    assert.throws(() => planFit(10, 10, { multiple: 16, maxPixels: 100, mode: 'pad' }), /at least multiple × multiple \(256\)/);
    assert.throws(() => planFit(10, 10, { multiple: 8, mode: 'crop' as never }), {
      message: "Expected mode 'resize' or 'pad' but received crop",
    });
  });
});

describe('fitImage / restoreImage', () => {
  it('returns an already fitting image untouched, and restores it exactly', async () => {
    const img = bytesToRgb(patternBytes(64, 32), 64, 32);
    for (const mode of ['pad', 'resize'] as const) {
      const plan = planFit(64, 32, { multiple: 16, maxPixels: 64 * 32, mode });
      const fitted = await fitImage(img, plan);
      assert.equal(fitted, img);
      assert.equal(await restoreImage(fitted, plan), img);
    }
  });

  it('pad: pads with edge replication and restores the exact pixels', async () => {
    const w = 37;
    const h = 21;
    const path = join(dir, 'pad.png');
    await rawInput(patternBytes(w, h), w, h).png().toFile(path);
    const img = await readImage(path);
    const plan = planFit(w, h, { multiple: 16, mode: 'pad' });
    const fitted = await fitImage(img, plan);
    assert.equal(fitted.width, 48);
    assert.equal(fitted.height, 32);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 48; x++) {
          assert.equal(at(fitted, c, x, y), at(img, c, Math.min(x, w - 1), Math.min(y, h - 1)));
        }
      }
    }
    const restored = await restoreImage(fitted, plan);
    assert.equal(restored.width, w);
    assert.equal(restored.height, h);
    assert.deepEqual(restored.data, img.data);
  });

  it('pad with maxPixels: scales, pads, and restores to the source size', async () => {
    const w = 120;
    const h = 80;
    const img = bytesToRgb(smoothBytes(w, h), w, h);
    const plan = planFit(w, h, { multiple: 16, maxPixels: 2400, mode: 'pad' });
    assert.deepEqual([plan.contentWidth, plan.contentHeight], [60, 40]);
    const fitted = await fitImage(img, plan);
    assert.deepEqual([fitted.width, fitted.height], [64, 48]);
    const restored = await restoreImage(fitted, plan);
    assert.deepEqual([restored.width, restored.height], [w, h]);
    const db = psnr(restored, img);
    assert.ok(db > 25, `PSNR ${db.toFixed(1)} dB`);
  });

  it('resize: works at a multiple and restores the source size closely', async () => {
    const w = 150;
    const h = 100;
    const img = bytesToRgb(smoothBytes(w, h), w, h);
    const plan = planFit(w, h, { multiple: 16, mode: 'resize' });
    assert.deepEqual([plan.workWidth, plan.workHeight], [144, 96]);
    const fitted = await fitImage(img, plan);
    assert.deepEqual([fitted.width, fitted.height], [144, 96]);
    const restored = await restoreImage(fitted, plan);
    assert.deepEqual([restored.width, restored.height], [w, h]);
    const db = psnr(restored, img);
    assert.ok(db > 25, `PSNR ${db.toFixed(1)} dB`);
    assert.ok(maxAbsDiff(restored.data, img.data) < 0.5);
  });

  it('resize with maxPixels: the working image fits the budget rounded to the multiple', async () => {
    const w = 300;
    const h = 200;
    const img = bytesToRgb(smoothBytes(w, h), w, h);
    const plan = planFit(w, h, { multiple: 8, maxPixels: 6000, mode: 'resize' });
    const fitted = await fitImage(img, plan);
    assert.deepEqual([fitted.width, fitted.height], [plan.workWidth, plan.workHeight]);
    assert.ok(plan.contentWidth * plan.contentHeight <= 6000);
    const restored = await restoreImage(fitted, plan);
    assert.deepEqual([restored.width, restored.height], [w, h]);
    assert.ok(psnr(restored, img) > 25);
  });

  it('checks image sizes against the plan', async () => {
    const plan: FitPlan = planFit(37, 21, { multiple: 16, mode: 'pad' });
    const wrong = bytesToRgb(patternBytes(10, 10), 10, 10);
    await assert.rejects(fitImage(wrong, plan), {
      message: 'Expected an image at the source size of 37x21 but received 10x10',
    });
    await assert.rejects(restoreImage(wrong, plan), {
      message: 'Expected an image at the working size of 48x32 but received 10x10',
    });
  });
});

it('restorePlane brings a mask plane to the source size where restoreImage brings the image: the same pixels past mid grey', async () => {
  for (const [sw, sh, mode] of [[1920, 1080, 'pad'], [1000, 700, 'resize'], [130, 128, 'pad']] as const) {
    const plan = planFit(sw, sh, { multiple: 8, maxPixels: 16384, mode });
    const { workWidth: w, workHeight: h } = plan;
    const m = new Float32Array(w * h).map((_, i) => (Math.hypot((i % w) - w / 3, Math.floor(i / w) - h / 2) < h / 4 ? 1 : 0)); // a disc
    const ours = restorePlane(m, plan);
    assert.equal(ours.length, sw * sh);
    const grey = { width: w, height: h, data: new Float32Array(3 * w * h).map((_, i) => 2 * m[i % (w * h)]! - 1) };
    const theirs = await restoreImage(grey, plan);
    let differ = 0;
    for (let i = 0; i < ours.length; i++) if ((ours[i]! >= 0.5) !== (theirs.data[i]! >= 0)) differ += 1;
    assert.ok(differ / ours.length < 0.01, `${sw}x${sh} ${mode}: ${differ} of ${ours.length} pixels differ`);
  }
  const identity = planFit(128, 128, { multiple: 8, maxPixels: 16384, mode: 'pad' });
  const plane = new Float32Array(128 * 128).fill(0.25);
  assert.equal(restorePlane(plane, identity), plane);
  assert.throws(() => restorePlane(new Float32Array(5), identity), /Expected a plane of 128x128 = 16384 values but received 5/);
});
