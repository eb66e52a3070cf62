/**
 * Pictures to look at, run as a user runs them on the fixture pack with 2 steps: --compare on
 * edit, swap and reconstruct (stills and a clip), and the layers plot. With FLOWEDIT_EXAMPLES_DIR
 * set, the pictures are also copied there to be looked at.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { before, test } from 'node:test';
import { promisify } from 'node:util';
import { findFfmpeg, type FfmpegTools } from '../../src/media/ffmpeg-tools.js';
import { writeComparison } from '../../src/media/compare.js';
import { readImage, type RgbImage } from '../../src/media/image.js';
import { readVideo } from '../../src/media/video.js';
import { readPack } from '../../src/model/pack.js';
import { PYTHON, ROOT, SAMPLE, TINY, tempDir } from '../paths.js';
import { assertCleanFailure, flowedit as runCli, type Result } from './run.js';

const run = promisify(execFile);
const MASK = join(ROOT, 'samples/red-circle-mask.png');

function flowedit(args: string[]): Promise<Result> {
  return runCli([...args, '--model', TINY, '--steps', '2', '--threads', '1']);
}

/** Copies a picture the tests made to $FLOWEDIT_EXAMPLES_DIR (when set), to be looked at. */
async function keepExample(file: string, name = basename(file)): Promise<void> {
  const to = process.env.FLOWEDIT_EXAMPLES_DIR;
  if (!to) return;
  await mkdir(to, { recursive: true });
  await copyFile(file, join(to, name));
}

/** The w × h part of `img` whose top-left corner is at (x, y). */
function crop(img: RgbImage, x: number, y: number, w: number, h: number): RgbImage {
  const data = new Float32Array(3 * w * h); // [3, h, w]
  for (let c = 0; c < 3; c++) for (let r = 0; r < h; r++) data.set(img.data.subarray(c * img.width * img.height + (y + r) * img.width + x, c * img.width * img.height + (y + r) * img.width + x + w), c * w * h + r * w);
  return { width: w, height: h, data };
}

/** Asserts two images hold the same pixels. */
function assertSamePixels(got: RgbImage, want: RgbImage, what: string): void {
  assert.deepEqual([got.width, got.height], [want.width, want.height], `${what}: size`);
  let differ = 0;
  for (let i = 0; i < want.data.length; i++) if (got.data[i] !== want.data[i]) differ++;
  assert.equal(differ, 0, `${what}: ${differ} of ${want.data.length} values differ`);
}

/**
 * The panels of a comparison of n pictures of w × h: the labels take the top rows, the panels
 * the bottom h rows, side by side with equal gaps. Returns each panel's pixels.
 */
function panels(cmp: RgbImage, n: number, w: number, h: number): RgbImage[] {
  assert.ok(cmp.height > h, `the picture (${cmp.height} rows) has room for labels above the ${h}-row panels`);
  const gaps = cmp.width - n * w;
  assert.ok(gaps >= 0 && gaps % Math.max(1, n - 1) === 0, `${cmp.width} columns hold ${n} panels ${w} wide with equal gaps`);
  const gap = n > 1 ? gaps / (n - 1) : 0;
  return Array.from({ length: n }, (_, i) => crop(cmp, i * (w + gap), cmp.height - h, w, h));
}

let dir: string;
let tools: FfmpegTools;
before(async () => {
  dir = await tempDir('flowedit-pictures-');
  tools = await findFfmpeg();
});

test('edit --compare: source | edit, the left part the source\'s pixels and the right the output\'s', async () => {
  const out = join(dir, 'edit.png');
  const cmp = join(dir, 'edit-compare.png');
  const r = await flowedit(['edit', SAMPLE, '--source-prompt', 'a red circle', '--target-prompt', 'a blue circle', '--auto-mask', '0', '-o', out, '--compare', cmp, '--save-inversion', join(dir, 'sample.flowinv')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /wrote .*edit-compare\.png/);
  const [source, result, picture] = [await readImage(SAMPLE), await readImage(out), await readImage(cmp)];
  const [left, right] = panels(picture, 2, source.width, source.height);
  assertSamePixels(left!, source, 'left part');
  assertSamePixels(right!, result, 'right part');
  await keepExample(cmp);
});

test('swap --compare: source | swap | the mask as applied (grown and feathered)', async () => {
  const out = join(dir, 'swap.png');
  const cmp = join(dir, 'swap-compare.png');
  const r = await flowedit(['swap', SAMPLE, '--mask', MASK, '--source-prompt', 'a red circle', '--target-prompt', 'a blue square', '--mask-feather', '6', '-o', out, '--compare', cmp]);
  assert.equal(r.code, 0, r.stderr);
  const [source, result, picture, given] = [await readImage(SAMPLE), await readImage(out), await readImage(cmp), await readImage(MASK)];
  const [left, middle, mask] = panels(picture, 3, source.width, source.height);
  assertSamePixels(left!, source, 'left part');
  assertSamePixels(middle!, result, 'middle part');
  // white where the given mask is white, black far from it, grey values only on the feathered edge
  const n = source.width * source.height;
  let inside = 0;
  let soft = 0;
  for (let i = 0; i < n; i++) {
    const v = mask!.data[i]!;
    if (given.data[i]! > 0.5) {
      assert.equal(v, 1, `pixel ${i} inside the mask`);
      inside++;
    } else if (v > -1 && v < 1) soft++;
  }
  assert.ok(inside > 0 && soft > 0, `${inside} mask pixels, ${soft} on the soft edge`);
  assert.equal(mask!.data[0], -1, 'a corner far from the mask is black');
  await keepExample(cmp);
});

test('edit --compare with the automatic mask: source | edit | mask, the edit the source\'s pixels where the mask is black; the mask made for it is removed', async () => {
  const out = join(dir, 'auto.png');
  const cmp = join(dir, 'auto-compare.png');
  const temps = async () => (await readdir(tmpdir())).filter((f) => f.startsWith('flowedit-compare-mask-'));
  const before = await temps();
  const r = await flowedit(['edit', SAMPLE, '--source-prompt', 'a red circle', '--target-prompt', 'a blue circle', '--auto-mask', '0.4', '-o', out, '--compare', cmp]);
  assert.equal(r.code, 0, r.stderr);
  const [source, picture] = [await readImage(SAMPLE), await readImage(cmp)];
  const [left, middle, mask] = panels(picture, 3, source.width, source.height);
  assertSamePixels(left!, source, 'left part');
  assertSamePixels(middle!, await readImage(out), 'middle part');
  // the mask is grey, and outside it (black) the edit kept the source (up to a feathered edge's rounding)
  const n = source.width * source.height;
  let black = 0;
  let edited = 0;
  for (let i = 0; i < n; i++) {
    const m = mask!.data[i]!;
    assert.ok(m === mask!.data[n + i] && m === mask!.data[2 * n + i], `mask pixel ${i} is grey`);
    const diff = Math.max(...[0, 1, 2].map((c) => Math.abs(middle!.data[c * n + i]! - left!.data[c * n + i]!)));
    if (m === -1) {
      black++;
      assert.ok(diff <= 0.02, `pixel ${i} outside the mask changed by ${diff}`);
    } else if (diff > 0.1) edited++;
  }
  assert.ok(black > 0 && edited > 0, `${black} pixels outside the mask, ${edited} edited inside`);
  assert.deepEqual(await temps(), before, 'the mask made for the picture is removed');
  await keepExample(cmp);
});

test('reconstruct --compare: source | reconstruction', async () => {
  const inv = join(dir, 'sample.flowinv'); // saved by the edit above
  const out = join(dir, 'rec.png');
  const cmp = join(dir, 'rec-compare.png');
  const r = await runCli(['reconstruct', inv, '--model', TINY, '-o', out, '--compare', cmp]);
  assert.equal(r.code, 0, r.stderr);
  const source = await readImage(SAMPLE);
  const [left, right] = panels(await readImage(cmp), 2, source.width, source.height);
  assertSamePixels(left!, source, 'left part');
  assertSamePixels(right!, await readImage(out), 'right part');
});

test('a clip\'s comparison shows its middle frame next to the same frame of the result (and of a mask video)', async () => {
  // two real clips of 9 frames stand in for a source and its edit, a third for a mask as applied
  const [clip, edited, mask] = [join(dir, 'clip.mp4'), join(dir, 'clip-edit.mp4'), join(dir, 'clip-mask.mp4')];
  const make = (src: string, file: string) => run(tools.ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', `${src}=size=64x48:rate=10`, '-frames:v', '9', '-c:v', 'libx264', '-crf', '10', '-pix_fmt', 'yuv420p', file]);
  await Promise.all([make('testsrc', clip), make('testsrc2', edited), make('rgbtestsrc', mask)]);
  const cmp = join(dir, 'clip-compare.png');
  await writeComparison(cmp, { source: clip, result: edited, label: 'edit', mask: { path: mask }, tools });
  const frames = await Promise.all([clip, edited, mask].map(async (f) => (await readVideo(f, { tools })).frames));
  const middle = Math.floor(frames[0]!.length / 2);
  const parts = panels(await readImage(cmp), 3, 64, 48);
  ['source', 'edit', 'mask'].forEach((what, i) => assertSamePixels(parts[i]!, frames[i]![middle]!, `${what} part (frame ${middle})`));
  await keepExample(cmp);
});

test('--compare and --plot are checked before any work: their names, an existing file without --force, an input\'s name', async () => {
  const out = join(dir, 'never.png');
  const taken = join(dir, 'taken.png');
  await writeFile(taken, 'already here');
  const base = ['edit', SAMPLE, '--target-prompt', 'a blue circle', '--auto-mask', '0', '-o', out];
  assertCleanFailure(await flowedit([...base, '--compare', join(dir, 'c.jpg')]), /--compare writes a PNG .*: name it .*c\.png/);
  assertCleanFailure(await flowedit([...base, '--compare', taken]), /taken\.png already exists: pass --force to overwrite it, or choose another name for --compare/);
  assertCleanFailure(await flowedit([...base, '--compare', SAMPLE]), /--compare .* is the input .* \(the same file\)/);
  assertCleanFailure(await runCli(['layers', '--model', TINY, '--task', 'swap', '--plot', join(dir, 'layers.png')]), /--plot writes an SVG image: name it .*layers\.svg/);
  assert.equal(await readFile(taken, 'utf8'), 'already here');
  assert.ok(!(await readdir(dir)).includes('never.png'), 'nothing ran');
});

test('layers --plot: a well-formed SVG with one bar per layer (the chosen highlighted) and a line per τ of the sweep', async () => {
  const svg = join(dir, 'layers.svg');
  const json = join(dir, 'layers.json');
  const calibration = join(ROOT, 'test/fixtures/calibration/own/stills.json');
  const r = await runCli(['layers', '--model', TINY, '--task', 'swap', '--calibration', calibration, '--cases', '1', '--steps', '2', '--sweep', '--threads', '1', '-q', '--json', json, '--plot', svg]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(await readFile(json, 'utf8')) as { scores: { layers: number[]; mean: number[] }[]; sweep: { fraction: number }[]; chosen: { shareLayers: number[] } };
  // parsed by a real XML parser: bars with their layer, whether chosen and their score; the sweep's lines
  const script = [
    'import json, sys, xml.etree.ElementTree as ET',
    'ns = "{http://www.w3.org/2000/svg}"',
    'root = ET.parse(sys.argv[1]).getroot()',
    'bars = [(int(e.get("data-layer")), "chosen" in e.get("class").split(), float(e.get("data-score"))) for e in root.iter(ns + "rect") if "bar" in (e.get("class") or "").split()]',
    'lines = [float(e.get("data-tau")) for e in root.iter(ns + "polyline")]',
    'print(json.dumps({"tag": root.tag, "bars": bars, "lines": lines}))',
  ].join('\n');
  const { stdout } = await run(PYTHON, ['-c', script, svg]);
  const parsed = JSON.parse(stdout) as { tag: string; bars: [number, boolean, number][]; lines: number[] };
  assert.equal(parsed.tag, '{http://www.w3.org/2000/svg}svg');
  const layers = (await readPack(TINY)).manifest.transformer.contextLayers.length;
  assert.equal(parsed.bars.length, layers, 'one bar per shareable layer');
  assert.deepEqual(parsed.bars.map(([l]) => l), report.scores[0]!.layers);
  assert.deepEqual(parsed.bars.map(([, , v]) => v), report.scores[0]!.mean);
  assert.deepEqual(parsed.bars.filter(([, chosen]) => chosen).map(([l]) => l).sort(), [...report.chosen.shareLayers].sort());
  const taus = [...new Set(report.sweep.map((t) => t.fraction))].sort();
  assert.deepEqual([...parsed.lines].sort(), [...taus, ...taus].sort(), 'one line per τ in each of the two sweep panels');
  await keepExample(svg);
});
