/**
 * Long, large clips reach the model at its working size: a full-HD clip is decoded straight to
 * it (peak memory measured in a child process), clip outputs are restored and encoded frame by
 * frame, and the pixel limit is honoured by the jobs before anything is decoded.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { crc32, deflateSync } from 'node:zlib';
import { runJob } from '../../src/jobs/run-job.js';
import { resolveSettings } from '../../src/edit/frames/settings.js';
import { findFfmpeg, type FfmpegTools } from '../../src/media/ffmpeg-tools.js';
import { readImage } from '../../src/media/image.js';
import { readPack } from '../../src/model/pack.js';
import { probeVideo, readVideo } from '../../src/media/video.js';
import { ROOT, SAMPLE, TINY, tempDir } from '../paths.js';

const run = promisify(execFile);
let tools: FfmpegTools;
let dir: string;
let hd: string;
before(async () => {
  tools = await findFfmpeg();
  dir = await tempDir('flowedit-clip-memory-');
  hd = join(dir, 'hd.mp4');
  await run(tools.ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=24', '-frames:v', '6', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', hd]);
});

test('inverting a full-HD clip holds working-size frames only: peak memory as for a clip of the working size (6 × 1920 × 1080 float would add 149 MB)', { timeout: 240_000 }, async () => {
  const script = join(dir, 'invert.mjs');
  const dist = (p: string) => pathToFileURL(join(ROOT, 'dist', p)).href;
  await writeFile(script, [
    `import { loadPack } from ${JSON.stringify(dist('src/model/pack.js'))};`,
    `import { invertClip } from ${JSON.stringify(dist('src/edit/frames/pipeline.js'))};`,
    `const pack = await loadPack(${JSON.stringify(TINY)}, { threads: 1 });`,
    `const file = await invertClip(pack, process.argv[2], { sourcePrompt: 'a test pattern', steps: 1, solver: 'euler', fit: 'pad' });`,
    `console.log(JSON.stringify({ peak: process.resourceUsage().maxRSS / 1024, frames: file.header.clip.frames, work: [file.header.fit.workWidth, file.header.fit.workHeight] }));`,
  ].join('\n'));
  // the same clip at the working size: what the model side costs on its own
  const small = join(dir, 'work-size.mp4');
  await run(tools.ffmpeg, ['-v', 'error', '-y', '-i', hd, '-vf', 'scale=344:192', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', small]);
  const measure = async (clip: string) => JSON.parse((await run(process.execPath, [script, clip], { maxBuffer: 1 << 20 })).stdout) as { peak: number; frames: number; work: number[] };
  // two child processes side by side: each measures its own peak
  const [base, r] = await Promise.all([measure(small), measure(hd)]);
  assert.deepEqual([r.frames, r.work, base.work], [6, [344, 192], [344, 192]]);
  assert.ok(r.peak - base.peak < 100, `the full-HD clip peaked at ${r.peak.toFixed(0)} MiB against ${base.peak.toFixed(0)} MiB for the same clip at the working size`);
});

test('clip jobs write what they used to: reconstruct and edit streams restore the source size and frame count', { timeout: 180_000 }, async () => {
  const pack = await readPack(TINY);
  const settings = resolveSettings(pack.manifest, 'invert', { steps: 1, solver: 'euler' });
  const small = join(dir, 'small.mp4');
  await run(tools.ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=100x60:rate=10', '-frames:v', '5', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', small]);
  const inv = join(dir, 'small.flowinv');
  await runJob({ kind: 'invert', packDir: TINY, output: inv, input: small, inputIsVideo: true, sourcePrompt: 'a pattern', settings }, {});
  const out = join(dir, 'rec.mp4');
  await runJob({ kind: 'reconstruct', packDir: TINY, output: out, input: inv, seed: 1 }, {});
  const p = await probeVideo(out, tools);
  assert.deepEqual([p.width, p.height, p.frames, p.rate], [100, 60, 5, { num: 10, den: 1 }]);
  assert.equal((await readVideo(out, { tools })).frames.length, 5);
});

test('jobs honour the pixel limit before decoding: a clip and a still above it are refused by name', { timeout: 120_000 }, async () => {
  const pack = await readPack(TINY);
  const settings = resolveSettings(pack.manifest, 'invert', { steps: 1 });
  const base = { kind: 'invert' as const, packDir: TINY, sourcePrompt: 'x', settings, maxInputPixels: 1000 };
  await assert.rejects(runJob({ ...base, output: join(dir, 'a.flowinv'), input: hd, inputIsVideo: true }, {}), /hd\.mp4 is 1920x1080 .*more than the limit.*--max-input-pixels 2073600/);
  await assert.rejects(runJob({ ...base, output: join(dir, 'b.flowinv'), input: SAMPLE }, {}), /red-circle-on-stripes\.png is 128x128 .*more than the limit/);
});

test('a 16000 × 16000 PNG of a few hundred bytes is refused from its header under the default limit, with the flag that raises it', async () => {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(8 + data.length + 4);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(16000, 0);
  ihdr.writeUInt32BE(16000, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const rows = deflateSync(Buffer.alloc(4 * (1 + 3 * 16000))); // the first rows only: decoding would fail, or take 3 GB
  const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', rows), chunk('IEND', Buffer.alloc(0))]);
  const path = join(dir, 'huge.png');
  await writeFile(path, png);
  assert.ok(png.length < 2000);
  await assert.rejects(readImage(path), /huge\.png is 16000x16000 \(256\.0 megapixels\), more than the limit of 64\.0 megapixels .*--max-input-pixels 256000000/);
});
