/** The command line on clips and masks: real ffmpeg, the fixture pack, real files. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { promisify } from 'node:util';
import { findFfmpeg, type FfmpegTools } from '../../src/media/ffmpeg-tools.js';
import { encodePng, readImage } from '../../src/media/image.js';
import { readMask } from '../../src/media/mask.js';
import { probeVideo, readVideo } from '../../src/media/video.js';
import { maxAbsDiff, MEDIA, ROOT, SAMPLE, TINY, tempDir } from '../paths.js';
import { assertCleanFailure, flowedit as runCli, type Result } from './run.js';

const run = promisify(execFile);

/** The CLI on the fixture pack. */
function flowedit(args: string[], onStderr?: (stderr: string, kill: (sig: NodeJS.Signals) => void) => void): Promise<Result> {
  return runCli([...args, '--model', TINY], onStderr);
}

let tools: FfmpegTools;
let dir: string;
let clip: string;
let maskVideo: string;
let withAudio: string;
before(async () => {
  tools = await findFfmpeg();
  dir = await tempDir('flowedit-video-cli-');
  // The real clip and its mask video, scaled down to keep the runs short.
  clip = join(dir, 'clip.mp4');
  maskVideo = join(dir, 'clip-mask.mp4');
  withAudio = join(dir, 'audio.mp4');
  await Promise.all([
    run(tools.ffmpeg, ['-v', 'error', '-i', join(MEDIA, 'diffueraser-example1-17f.mp4'), '-vf', 'scale=112:64', '-c:v', 'libx264', '-crf', '10', '-pix_fmt', 'yuv420p', clip]),
    run(tools.ffmpeg, ['-v', 'error', '-i', join(MEDIA, 'diffueraser-example1-mask-17f.mp4'), '-vf', 'scale=112:64', '-c:v', 'libx264', '-crf', '10', '-pix_fmt', 'yuv420p', maskVideo]),
    run(tools.ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10', '-f', 'lavfi', '-i', 'sine=frequency=330', '-t', '1.2', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', withAudio]),
  ]);
});

test('swap on a still: outside the mask every pixel is the source\'s', async () => {
  const mask = join(dir, 'box.png');
  const m = new Float32Array(3 * 128 * 128).fill(-1);
  for (let c = 0; c < 3; c++) for (let y = 40; y < 90; y++) m.fill(1, c * 128 * 128 + y * 128 + 40, c * 128 * 128 + y * 128 + 90);
  await writeFile(mask, await encodePng({ width: 128, height: 128, data: m }));
  const out = join(dir, 'swapped.png');
  const r = await flowedit(['swap', SAMPLE, '--mask', mask, '--mask-grow', '0', '--mask-feather', '0', '--source-prompt', 'a red circle', '--target-prompt', 'a blue square', '--steps', '2', '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /wrote .*swapped\.png \(\d+ model calls/);
  const [a, b] = [await readImage(SAMPLE), await readImage(out)];
  const plane = 128 * 128;
  let changed = 0;
  for (let i = 0; i < plane; i++) {
    const inside = m[i] === 1;
    for (let c = 0; c < 3; c++) {
      const d = Math.abs(a.data[c * plane + i]! - b.data[c * plane + i]!);
      if (!inside) assert.equal(d, 0, `pixel ${i} outside the mask`);
      else if (d > 0) changed++;
    }
  }
  assert.ok(changed > 0, 'the masked part changed');
});

test('swap on a clip with a mask video: size, rate and frame count kept; ≥ 35 dB outside the mask', async () => {
  const out = join(dir, 'swapped.mp4');
  const r = await flowedit(['swap', clip, '--mask', maskVideo, '--target-prompt', 'a blue square', '--steps', '3', '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /sample 3\/3/, 'progress per window');
  const p = await probeVideo(out, tools);
  assert.deepEqual([p.width, p.height, p.rate, p.frames], [112, 64, { num: 15, den: 1 }, 17]);
  const db = await psnrOutsideMask(out);
  assert.ok(db >= 35, `PSNR outside the mask ${db.toFixed(1)} dB`);
});

test('edit a clip in its automatic mask with the built-in model; the saved mask video lines up and the outside stays the source', async () => {
  const scene = join(ROOT, 'samples/scenes/clip-5.mp4');
  const out = join(dir, 'auto-edit.mp4');
  const mask = join(dir, 'auto-edit-mask.mp4');
  const r = await runCli(['edit', scene, '--source-prompt', 'a yellow square and an orange square on purple stripes', '--target-prompt', 'a yellow square and a cyan square on purple stripes', '--steps', '3', '--save-mask', mask, '-q', '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  const [po, pm, ps] = [await probeVideo(out, tools), await probeVideo(mask, tools), await probeVideo(scene, tools)];
  assert.deepEqual([pm.width, pm.height, pm.frames, pm.rate], [ps.width, ps.height, ps.frames, ps.rate]);
  assert.deepEqual([po.width, po.height, po.frames], [ps.width, ps.height, ps.frames]);
  const db = await psnrOutsideMask(out, scene, mask);
  assert.ok(db >= 35, `PSNR outside the saved mask ${db.toFixed(1)} dB`);
});

/**
 * PSNR of a swapped clip against its source, outside the mask as swap applies it by default
 * (grown by 2 and feathered by 6 pixels).
 */
async function psnrOutsideMask(out: string, source = clip, maskPath = maskVideo): Promise<number> {
  const [src, got] = [await readVideo(source, { tools }), await readVideo(out, { tools })];
  const { width, height } = src.info;
  const mask = await readMask(maskPath, { tools });
  const { prepareMask, maskFrame } = await import('../../src/media/mask.js');
  const applied = prepareMask(mask, { width, height, frames: src.frames.length }, { grow: 2, feather: 6, invert: false });
  let se = 0;
  let n = 0;
  src.frames.forEach((f, i) => {
    const m = maskFrame(applied, i);
    const plane = width * height;
    for (let j = 0; j < plane; j++) {
      if (m[j] !== 0) continue;
      for (let c = 0; c < 3; c++) se += (f.data[c * plane + j]! - got.frames[i]!.data[c * plane + j]!) ** 2;
      n += 3;
    }
  });
  return 10 * Math.log10(4 / (se / n));
}

test('swap with the built-in model on the real clips: a mask video and a single mask still; ≥ 35 dB outside the mask after re-encoding', async (t) => {
  // the two swaps are independent: they run side by side
  const maskVideoSwap = async () => {
    // the DiffuEraser clip (scaled) with its mask video
    const a = join(dir, 'builtin-video-mask.mp4');
    // these clips have no caption: plain guidance (the pack's swap default guides against the source prompt)
    const r1 = await runCli(['swap', clip, '--mask', maskVideo, '--target-prompt', 'a red square on gray stripes', '--guide-against', 'empty', '--steps', '2', '-q', '-o', a]);
    assert.equal(r1.code, 0, r1.stderr);
    const tags = JSON.parse((await run(tools.ffprobe, ['-v', 'error', '-show_entries', 'format_tags=description', '-of', 'json', a])).stdout);
    assert.equal(JSON.parse(tags.format.tags.description).model, 'flowedit-tiny', 'the built-in pack is the default');
    const pa = await psnrOutsideMask(a);
    assert.ok(pa >= 35, `mask video: ${pa.toFixed(1)} dB outside the mask`);
    return pa;
  };
  const maskStillSwap = async () => {
    // the portrait VACE clip (512×768, 25 frames: two windows) with one mask still for every frame
    const vace = join(MEDIA, 'vace-test2.mp4');
    const stillMask = join(MEDIA, 'vace-test2-mask.png');
    const b = join(dir, 'builtin-still-mask.mp4');
    const r2 = await runCli(['swap', vace, '--mask', stillMask, '--target-prompt', 'a green star on white dots', '--guide-against', 'empty', '--steps', '2', '-q', '-o', b]);
    assert.equal(r2.code, 0, r2.stderr);
    const p = await probeVideo(b, tools);
    assert.deepEqual([p.width, p.height, p.frames], [512, 768, 25]);
    const pb = await psnrOutsideMask(b, vace, stillMask);
    assert.ok(pb >= 35, `mask still: ${pb.toFixed(1)} dB outside the mask`);
    return pb;
  };
  const [pa, pb] = await Promise.all([maskVideoSwap(), maskStillSwap()]);
  t.diagnostic(`outside the mask: mask video ${pa.toFixed(1)} dB, mask still ${pb.toFixed(1)} dB`);
});

test('swap from a saved inversion: a still gives the same pixels as swapping the image; a clip keeps its frames and the source outside the mask', async () => {
  const box = new Float32Array(3 * 128 * 128).fill(-1);
  for (let c = 0; c < 3; c++) for (let y = 30; y < 80; y++) box.fill(1, c * 128 * 128 + y * 128 + 50, c * 128 * 128 + y * 128 + 100);
  const mask = join(dir, 'inv-box.png');
  await writeFile(mask, await encodePng({ width: 128, height: 128, data: box }));
  const common = ['--mask', mask, '--target-prompt', 'a blue square', '-q'];
  // three independent parts, run side by side
  const still = async () => {
    // invert once, swap from the file, compare with the direct swap
    const inv = join(dir, 'still.flowinv');
    const direct = flowedit(['swap', SAMPLE, ...common, '--source-prompt', 'a red circle', '--steps', '2', '-o', join(dir, 'direct.png')]);
    assert.equal((await flowedit(['invert', SAMPLE, '--source-prompt', 'a red circle', '--steps', '2', '-o', inv, '-q'])).code, 0);
    const fromFile = await flowedit(['swap', inv, ...common, '-o', join(dir, 'from-inv.png')]);
    assert.equal(fromFile.code, 0, fromFile.stderr);
    const directResult = await direct;
    assert.equal(directResult.code, 0, directResult.stderr);
    const [a, b] = [await readImage(join(dir, 'from-inv.png')), await readImage(join(dir, 'direct.png'))];
    assert.ok(maxAbsDiff(a.data, b.data) <= 2 / 255, `from the inversion and direct differ by ${maxAbsDiff(a.data, b.data)}`);
    // the file fixes its settings
    assertCleanFailure(await flowedit(['swap', inv, ...common, '--steps', '6', '-o', join(dir, 'never.png')]), /was inverted with --steps 2; --steps 6 cannot change that/);
  };
  const movedSource = async () => {
    // the source must be unchanged
    const moved = join(dir, 'moved-source.png');
    await writeFile(moved, await readFile(SAMPLE));
    const movedInv = join(dir, 'moved.flowinv');
    assert.equal((await flowedit(['invert', moved, '--steps', '2', '-o', movedInv, '-q'])).code, 0);
    await writeFile(moved, await encodePng({ width: 128, height: 128, data: box }));
    assertCleanFailure(await flowedit(['swap', movedInv, ...common, '-o', join(dir, 'never-moved.png')]), /moved-source\.png changed since it was inverted/);
  };
  const clipFromFile = async () => {
    // a clip: the inversion's windows and trajectories are reused; a still mask fits every frame
    const clipInv = join(dir, 'clip.flowinv');
    const nine = join(dir, 'nine-mask.mp4');
    const nineMade = run(tools.ffmpeg, ['-v', 'error', '-i', maskVideo, '-frames:v', '9', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', nine]);
    assert.equal((await flowedit(['invert', clip, '--steps', '2', '-o', clipInv, '-q'])).code, 0);
    const out = join(dir, 'clip-from-inv.mp4');
    const r = await flowedit(['swap', clipInv, '--mask', maskVideo, '--target-prompt', 'a blue square', '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /wrote .*clip-from-inv\.mp4 \(\d+ model calls/);
    const p = await probeVideo(out, tools);
    assert.deepEqual([p.width, p.height, p.rate, p.frames], [112, 64, { num: 15, den: 1 }, 17]);
    const db = await psnrOutsideMask(out);
    assert.ok(db >= 35, `PSNR outside the mask ${db.toFixed(1)} dB`);
    await nineMade;
    assertCleanFailure(await flowedit(['swap', clipInv, '--mask', nine, '--target-prompt', 'x', '-o', join(dir, 'never.mp4')]), /The mask has 9 frames but the input has 17/);
  };
  await Promise.all([still(), movedSource(), clipFromFile()]);
  assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('never')), []);
});

test('invert → reconstruct → edit on a clip keeps frames, rate and the audio stream', async () => {
  const inv = join(dir, 'audio.flowinv');
  const rec = join(dir, 'audio-rec.mp4');
  const edited = join(dir, 'audio-edit.mp4');
  const r1 = await flowedit(['invert', withAudio, '--steps', '2', '-o', inv, '-q']);
  assert.equal(r1.code, 0, r1.stderr);
  const r2 = await flowedit(['reconstruct', inv, '-o', rec, '-q']);
  assert.equal(r2.code, 0, r2.stderr);
  const r3 = await flowedit(['edit', inv, '--target-prompt', 'a blue square', '-o', edited, '-q']);
  assert.equal(r3.code, 0, r3.stderr);
  for (const f of [rec, edited]) {
    const p = await probeVideo(f, tools);
    assert.deepEqual([p.width, p.height, p.rate, p.frames, p.audio], [64, 48, { num: 10, den: 1 }, 12, true]);
  }
  assertCleanFailure(await flowedit(['reconstruct', inv, '-o', join(dir, 'rec.png')]), /writes H\.264 video into .*: name the output .*rec\.mp4/);
});

test('bad clips and masks: one clear message, non-zero exit, no output left', async () => {
  const out = join(dir, 'never.mp4');
  const notVideo = join(dir, 'notes.mp4');
  await writeFile(notVideo, 'just text');
  const zero = join(dir, 'zero.mp4');
  await run(tools.ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10', '-frames:v', '0', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', zero]);
  const truncated = join(dir, 'truncated.mp4');
  await writeFile(truncated, (await readFile(join(MEDIA, 'vace-test2.mp4'))).subarray(0, 20_000));
  const shortMask = join(dir, 'short-mask.mp4');
  await run(tools.ffmpeg, ['-v', 'error', '-i', maskVideo, '-frames:v', '9', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', shortMask]);
  const isRoot = process.getuid?.() === 0;
  const locked = isRoot ? '/sys' : join(dir, 'locked');
  if (!isRoot) {
    await mkdir(locked);
    await chmod(locked, 0o500);
  }
  const swap = (input: string, mask: string, output = out) => flowedit(['swap', input, '--mask', mask, '--target-prompt', 'x', '-o', output]);
  // all refused before any work: run together
  const refusals: [Promise<Result>, RegExp][] = [
    [swap(notVideo, maskVideo), /Cannot read .*notes\.mp4 as a video .*ffprobe failed/],
    [swap(zero, maskVideo), /Cannot read .*zero\.mp4 as a video .*(no video stream|no video frames)/],
    [swap(truncated, maskVideo), /Cannot read .*truncated\.mp4 as a video/],
    [swap(clip, shortMask), /The mask has 9 frames but the input has 17/],
    [swap(clip, join(dir, 'missing-mask.png')), /Mask not found: .*missing-mask\.png/],
    // the mask is read beside the input's checks, but a bad input is still the problem reported first
    [swap(truncated, join(dir, 'missing-mask.png')), /^flowedit: Cannot read .*truncated\.mp4 as a video[^\n]*\n$/],
    [swap(clip, maskVideo, join(locked, 'x.mp4')), /Cannot write .*x\.mp4: directory .* is not writable/],
    [swap(clip, maskVideo, join(dir, 'no-such-dir', 'x.mp4')), /Cannot write .*x\.mp4: directory .*no-such-dir does not exist/],
    [swap(clip, maskVideo, join(dir, 'never.png')), /writes H\.264 video into .*: name the output .*never\.mp4/],
    [swap(SAMPLE, maskVideo, join(dir, 'never.png')), /The mask has 17 frames but the input has 1/],
    [flowedit(['swap', clip, '--mask', maskVideo, '--target-prompt', 'x', '--mask-grow', '-3', '-o', out]), /Expected a number in \[0, 1000\] for --mask-grow but received -3/],
    [flowedit(['swap', clip, '--mask', maskVideo, '--target-prompt', 'x', '--mask-bias', '5', '-o', out]), /Expected a number in \[-10000, 0\] for --mask-bias but received 5/],
    [flowedit(['swap', clip, '--target-prompt', 'x', '-o', out]), /flowedit swap replaces what a mask covers: add --mask FILE/],
  ];
  for (const [r, message] of refusals) assertCleanFailure(await r, message);
  const left = (await readdir(dir)).filter((f) => f.startsWith('never') || f.endsWith('.tmp'));
  assert.deepEqual(left, []);
});

test('Ctrl-C during a clip swap leaves no partial output', async () => {
  const out = join(dir, 'cancelled.mp4');
  let sent = false;
  const r = await flowedit(['swap', clip, '--mask', maskVideo, '--target-prompt', 'x', '--steps', '400', '--solver', 'euler', '-o', out], (stderr, kill) => {
    if (!sent && /encode/.test(stderr)) {
      sent = true;
      kill('SIGINT');
    }
  });
  assert.ok(sent, 'progress was shown before the interrupt');
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /cancelled; no output was written/);
  assert.deepEqual((await readdir(dir)).filter((f) => f.includes('cancelled')), []);
});

test('swap --help explains the mask and video options without loading a model', async () => {
  const child = await runCli(['swap', '--help']);
  for (const option of ['--mask', '--mask-grow', '--mask-feather', '--invert-mask', '--mask-bias', '--target-prompt', '--source-prompt', '--guide-against', '--share-layers', '--ffmpeg', '--overlap', '--preset', '--print-config']) {
    assert.match(child.stdout, new RegExp(option));
  }
  assert.match(child.stdout, /white = edit/);
});

test('swap on a still with a mask folder needs no ffmpeg', async () => {
  const folder = join(dir, 'mask-folder');
  await mkdir(folder, { recursive: true });
  const m = new Float32Array(3 * 128 * 128).fill(-1);
  for (let c = 0; c < 3; c++) m.fill(1, c * 128 * 128 + 40 * 128, c * 128 * 128 + 90 * 128); // white rows 40-89
  await writeFile(join(folder, '0001.png'), await encodePng({ width: 128, height: 128, data: m }));
  const out = join(dir, 'folder-swapped.png');
  // a --ffmpeg that does not run is refused whenever ffmpeg is asked for: here it must not be
  const r = await flowedit(['swap', SAMPLE, '--mask', folder, '--target-prompt', 'a blue square', '--steps', '2', '--ffmpeg', join(dir, 'no-such-ffmpeg'), '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok((await stat(out)).isFile());
});

test('swap with an all-black mask is refused before any inference', async () => {
  const mask = join(dir, 'black.png');
  await writeFile(mask, await encodePng({ width: 128, height: 128, data: new Float32Array(3 * 128 * 128).fill(-1) }));
  const out = join(dir, 'black-swapped.png');
  const r = await flowedit(['swap', SAMPLE, '--mask', mask, '--target-prompt', 'a blue square', '--steps', '2', '-o', out]);
  assertCleanFailure(r, /the mask covers no pixels: paint the region to edit white/);
  assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('black-swapped')), []);
});
