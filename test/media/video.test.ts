/** Real ffmpeg round trips: probe, decode, encode, audio carried, and clear errors on bad files. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { promisify } from 'node:util';
import { findFfmpeg, type FfmpegTools } from '../../src/media/ffmpeg-tools.js';
import { resizeImage } from '../../src/media/image.js';
import { assertConstantRate, probeVideo, readVideo, videoFrames, writeVideo } from '../../src/media/video.js';
import { MEDIA, psnr, tempDir } from '../paths.js';

const run = promisify(execFile);
let tools: FfmpegTools;
let dir: string;
before(async () => {
  tools = await findFfmpeg();
  dir = await tempDir('flowedit-video-');
});

const PORTRAIT = join(MEDIA, 'vace-test2.mp4');
const WIDE = join(MEDIA, 'diffueraser-example1-17f.mp4');

function meanPsnr(a: readonly { data: Float32Array }[], b: readonly { data: Float32Array }[]): number {
  assert.equal(a.length, b.length);
  return a.reduce((s, f, i) => s + psnr(f.data, b[i]!.data), 0) / a.length;
}

test('probe reads size, frame rate, frame count and audio', async () => {
  const p = await probeVideo(PORTRAIT, tools);
  assert.deepEqual([p.width, p.height, p.rate, p.frames, p.audio, p.rotation], [512, 768, { num: 25, den: 1 }, 25, false, 0]);
  const w = await probeVideo(WIDE, tools);
  assert.deepEqual([w.width, w.height, w.rate, w.frames], [854, 480, { num: 15, den: 1 }, 17]);
});

for (const [name, path] of [['portrait 512x768', PORTRAIT], ['odd-width 854x480', WIDE]] as const) {
  test(`decode → encode keeps size, frame rate and frame count (${name})`, { timeout: 120_000 }, async () => {
    const clip = await readVideo(path, { tools });
    const out = join(dir, `round-${clip.info.width}.mp4`);
    await writeVideo(out, clip.frames, { rate: clip.rate, tools });
    const p = await probeVideo(out, tools);
    assert.deepEqual([p.width, p.height, p.rate, p.frames], [clip.info.width, clip.info.height, clip.info.rate, clip.info.frames]);
    const back = await readVideo(out, { tools });
    assert.ok(meanPsnr(clip.frames, back.frames) > 38, 'visually lossless re-encode');
  });
}

test('a rotated clip decodes upright at its displayed size, and is written that way', { timeout: 60_000 }, async () => {
  const plain = join(dir, 'landscape.mp4');
  const rotated = join(dir, 'rotated.mp4');
  await run(tools.ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=96x64:rate=10', '-t', '0.5', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', plain]);
  await run(tools.ffmpeg, ['-v', 'error', '-y', '-i', plain, '-c', 'copy', '-metadata:s:v:0', 'rotate=90', rotated]);
  const p = await probeVideo(rotated, tools);
  assert.deepEqual([p.width, p.height, p.frames], [64, 96, 5]);
  assert.notEqual(p.rotation, 0);
  const clip = await readVideo(rotated, { tools });
  assert.deepEqual([clip.frames.length, clip.frames[0]!.width, clip.frames[0]!.height], [5, 64, 96]);
  const out = join(dir, 'rotated-out.mp4');
  await writeVideo(out, clip.frames, { rate: clip.rate, tools });
  const q = await probeVideo(out, tools);
  assert.deepEqual([q.width, q.height, q.rotation], [64, 96, 0]);
});

test('a clip with audio keeps its audio stream unchanged', { timeout: 60_000 }, async () => {
  const src = join(dir, 'with-audio.mp4');
  await run(tools.ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=96x64:rate=12', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=22050', '-t', '1', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', src]);
  const clip = await readVideo(src, { tools });
  assert.equal(clip.info.audio, true);
  const out = join(dir, 'with-audio-out.mp4');
  await writeVideo(out, clip.frames, { rate: clip.rate, audioFrom: src, tools });
  const probe = async (f: string) =>
    JSON.parse((await run(tools.ffprobe, ['-v', 'error', '-show_streams', '-of', 'json', f])).stdout).streams as { codec_type: string; codec_name: string; sample_rate?: string }[];
  const a0 = (await probe(src)).find((s) => s.codec_type === 'audio')!;
  const a1 = (await probe(out)).find((s) => s.codec_type === 'audio');
  assert.ok(a1, 'audio stream present');
  assert.deepEqual([a1.codec_name, a1.sample_rate], [a0.codec_name, a0.sample_rate]);
  const p = await probeVideo(out, tools);
  assert.deepEqual([p.width, p.height, p.frames, p.rate], [96, 64, 12, { num: 12, den: 1 }]);
});

test('audio an MP4 cannot hold (PCM from a MOV) is re-encoded to AAC; a MOV keeps it as it is', { timeout: 60_000 }, async () => {
  const src = join(dir, 'pcm.mov');
  await run(tools.ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=96x64:rate=12', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=22050', '-t', '1', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'pcm_s16le', '-shortest', src]);
  const clip = await readVideo(src, { tools });
  assert.deepEqual(clip.info.audioCodecs, ['pcm_s16le']);
  const mp4 = join(dir, 'pcm-out.mp4');
  await writeVideo(mp4, clip.frames, { rate: clip.rate, audioFrom: src, tools });
  assert.deepEqual((await probeVideo(mp4, tools)).audioCodecs, ['aac']);
  const mov = join(dir, 'pcm-out.mov');
  await writeVideo(mov, clip.frames, { rate: clip.rate, audioFrom: src, tools });
  assert.deepEqual((await probeVideo(mov, tools)).audioCodecs, ['pcm_s16le']);
});

test('bad inputs: not a video, zero frames, truncated; an unwritable output leaves nothing', { timeout: 60_000 }, async () => {
  const text = join(dir, 'notes.mp4');
  await writeFile(text, 'just text, not a video');
  await assert.rejects(probeVideo(text, tools), /Cannot read .*notes\.mp4 as a video .*ffprobe failed/);
  const empty = join(dir, 'empty.mp4');
  await writeFile(empty, '');
  await assert.rejects(probeVideo(empty, tools), /as a video .*the file is empty/);
  const zero = join(dir, 'zero.mp4');
  await run(tools.ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10', '-frames:v', '0', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', zero]);
  await assert.rejects(probeVideo(zero, tools), /as a video .*(no video stream|no video frames)/);
  const bytes = await readFile(WIDE);
  const truncated = join(dir, 'truncated.mp4');
  await writeFile(truncated, bytes.subarray(0, Math.floor(bytes.length / 3)));
  await assert.rejects(readVideo(truncated, { tools }), /truncated\.mp4 as a video .*(truncated or damaged|could not decode)/);
  const clip = await readVideo(PORTRAIT, { tools });
  await assert.rejects(writeVideo(join(dir, 'no-such-dir', 'x.mp4'), clip.frames.slice(0, 2), { rate: clip.rate, tools }), /Cannot write .*x\.mp4: ffmpeg failed/);
  await assert.rejects(writeVideo(join(dir, 'x.webm'), clip.frames.slice(0, 2), { rate: clip.rate, tools }), /name the output .*x\.mp4/);
  const left = (await readdir(dir)).filter((f) => f.endsWith('.tmp') || f.startsWith('x.'));
  assert.deepEqual(left, []);
});

test('a cancelled encode leaves no file', { timeout: 60_000 }, async () => {
  const clip = await readVideo(PORTRAIT, { tools });
  const out = join(dir, 'cancelled.mp4');
  const controller = new AbortController();
  const pending = writeVideo(out, [...clip.frames, ...clip.frames, ...clip.frames], { rate: clip.rate, tools, signal: controller.signal });
  setTimeout(() => controller.abort(new Error('stop')), 50);
  await assert.rejects(pending, /stop/);
  const left = (await readdir(dir)).filter((f) => f.includes('cancelled'));
  assert.deepEqual(left, []);
});

test('ffmpeg is found on PATH, or the npm-shipped binary; a bad explicit path is refused by name', async () => {
  const t = await findFfmpeg();
  assert.ok(t.ffmpeg.length > 0 && t.ffprobe.length > 0);
  await assert.rejects(findFfmpeg('/no/such/ffmpeg'), /--ffmpeg \/no\/such\/ffmpeg does not run as ffmpeg/);
});

test('a cancel that comes before ffmpeg starts is not lost: nothing is decoded or written', { timeout: 60_000 }, async () => {
  const aborted = AbortSignal.abort(new Error('stopped early'));
  await assert.rejects(readVideo(PORTRAIT, { tools, signal: aborted }), /stopped early/);
  const clip = await readVideo(PORTRAIT, { tools });
  const odd = clip.frames.slice(0, 3).map((f) => ({ ...f, width: f.width - 1, data: f.data.subarray(0, 3 * (f.width - 1) * f.height) }));
  const out = join(dir, 'early-cancel.mp4');
  await assert.rejects(writeVideo(out, clip.frames.slice(0, 3), { rate: clip.rate, tools, signal: aborted }), /stopped early/);
  // the odd size's warning comes before ffmpeg starts: a cancel there must still stop the encode
  const controller = new AbortController();
  const pending = writeVideo(out, odd, { rate: clip.rate, tools, signal: controller.signal, onWarning: () => controller.abort(new Error('stopped at the warning')) });
  await assert.rejects(pending, /stopped at the warning/);
  assert.deepEqual((await readdir(dir)).filter((f) => f.includes('early-cancel')), []);
});

test('a file whose name reads as an ffmpeg protocol (concat:a.mp4|a.mp4) is read as that file: probe, decode and audio', { timeout: 120_000 }, async () => {
  const cwd = process.cwd();
  const clip = (size: string, frames: number, out: string, audio?: string) =>
    run(tools.ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc=size=${size}:rate=10`, ...(audio ? ['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=${audio}`] : []), '-frames:v', String(frames), '-c:v', 'libx264', '-pix_fmt', 'yuv420p', ...(audio ? ['-c:a', 'aac', '-t', '1'] : []), join(dir, out)]);
  await clip('96x64', 10, 'a.mp4', '22050');
  await clip('64x48', 3, 'concat:a.mp4|a.mp4', '16000');
  process.chdir(dir);
  try {
    const name = 'concat:a.mp4|a.mp4';
    const p = await probeVideo(name, tools);
    assert.deepEqual([p.width, p.height, p.frames], [64, 48, 3]);
    const frames = await readVideo(name, { tools });
    assert.deepEqual([frames.frames.length, frames.frames[0]!.width], [3, 64]);
    await writeVideo('out.mp4', frames.frames, { rate: frames.rate, tools, audioFrom: name });
    const streams = JSON.parse((await run(tools.ffprobe, ['-v', 'error', '-show_streams', '-of', 'json', 'out.mp4'])).stdout).streams as { codec_type: string; sample_rate?: string }[];
    assert.equal(streams.find((s) => s.codec_type === 'audio')?.sample_rate, '16000', "the named file's audio, not a.mp4's");
  } finally {
    process.chdir(cwd);
  }
});

test('decoding to a size: ffmpeg scales while decoding, and frames come one at a time from videoFrames', { timeout: 60_000 }, async () => {
  const clip = await readVideo(WIDE, { tools, size: { width: 85, height: 48 } });
  assert.deepEqual([clip.frames.length, clip.frames[0]!.width, clip.frames[0]!.height, clip.frames[0]!.data.length], [17, 85, 48, 3 * 85 * 48]);
  assert.deepEqual([clip.info.width, clip.info.height], [854, 480], 'the info keeps the source size');
  // the scaled frame looks like the full frame scaled down
  const full = await readVideo(WIDE, { tools });
  const small = await resizeImage(full.frames[5]!, 85, 48);
  assert.ok(psnr(small.data, clip.frames[5]!.data) > 30, 'the same picture');
  let seen = 0;
  for await (const f of videoFrames(WIDE, { tools })) {
    assert.equal(f.width, 854);
    if (++seen === 3) break; // stopping early ends ffmpeg
  }
  assert.equal(seen, 3);
});

test('a clip larger than the pixel limit is refused from its probe, before decoding', { timeout: 60_000 }, async () => {
  await assert.rejects(readVideo(WIDE, { tools, maxInputPixels: 100_000 }), /854x480 .*more than the limit of 0\.1 megapixels.*--max-input-pixels 409920/);
  const frames = await readVideo(WIDE, { tools, maxInputPixels: 409_920 });
  assert.equal(frames.frames.length, 17);
});

test('a full-HD clip streams through videoFrames whole: every frame at its size, in order (its speed against ffmpeg alone: npm run bench:video)', { timeout: 180_000 }, async () => {
  const hd = join(dir, 'hd.mp4');
  await run(tools.ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=30', '-frames:v', '60', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', hd]);
  const info = await probeVideo(hd, tools);
  let frames = 0;
  let previous: Float32Array | undefined;
  let changed = 0;
  for await (const f of videoFrames(hd, { tools, info })) {
    assert.equal(f.data.length, 3 * 1920 * 1080);
    frames += 1;
    // testsrc2 moves every frame: a frame handed out twice, or bytes of two frames mixed up, would repeat one
    if (previous && f.data.some((v, i) => v !== previous![i])) changed += 1;
    previous = f.data;
  }
  assert.equal(frames, 60);
  assert.equal(changed, 59);
});

/** The processes descended from `pid` (its children, theirs, …), with their command name and state, from /proc (Linux). */
async function descendantsOf(pid: number): Promise<{ pid: number; comm: string; state: string }[]> {
  const all: { pid: number; parent: number; comm: string; state: string }[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    const m = /^\d+ \((.*)\) (\S) (\d+)/.exec(stat);
    if (m) all.push({ pid: Number(name), parent: Number(m[3]), comm: m[1]!, state: m[2]! });
  }
  const out: { pid: number; comm: string; state: string }[] = [];
  for (let level = [pid]; level.length > 0; ) {
    const next = all.filter((p) => level.includes(p.parent));
    out.push(...next.map(({ pid, comm, state }) => ({ pid, comm, state })));
    level = next.map((p) => p.pid);
  }
  return out;
}

/** Whether a process still runs (a zombie waiting to be reaped does not). */
async function running(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  return stat !== null && !/^\d+ \(.*\) Z/.test(stat);
}

test('ffmpeg and ffprobe die with flowedit, also when flowedit is killed with SIGKILL in the middle of their work', { timeout: 120_000 }, async () => {
  // a clip whose container does not say how many frames it holds: ffprobe decodes it all to count
  // them, seconds of work that nothing stops when the process that wanted them is gone
  const long = join(dir, 'long.mkv');
  await run(tools.ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=25', '-frames:v', '300', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', long]);
  const script = join(dir, 'probe.mjs');
  const video = new URL('../../src/media/video.js', import.meta.url).href;
  await writeFile(script, [`import { probeVideo } from ${JSON.stringify(video)};`, `await probeVideo(process.argv[2]);`].join('\n'));
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [script, long], { stdio: 'ignore' });
  let counting: { pid: number; comm: string } | undefined;
  for (const start = performance.now(); !counting && performance.now() - start < 20_000; await new Promise((r) => setTimeout(r, 20))) {
    for (const p of await descendantsOf(child.pid!)) {
      const cmd = await readFile(`/proc/${p.pid}/cmdline`, 'utf8').catch(() => '');
      if (cmd.includes('-count_frames')) counting = p;
    }
  }
  assert.ok(counting, 'ffprobe counts the frames as a descendant of the probing process');
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('close', resolve));
  const deadline = performance.now() + 500;
  while ((await running(counting.pid)) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const alive = await running(counting.pid);
  if (alive) process.kill(counting.pid, 'SIGKILL');
  assert.equal(alive, false, 'ffprobe was still counting 0.5 s after its parent was killed');
});

test('the output keeps the source pixel aspect ratio (2:1), its 10-bit 4:4:4 samples, and says that alpha is dropped', { timeout: 120_000 }, async () => {
  const make = (out: string, args: string[]) => run(tools.ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=96x64:rate=10', '-frames:v', '5', ...args, join(dir, out)]);
  await make('sar.mp4', ['-vf', 'setsar=2/1', '-c:v', 'libx264', '-pix_fmt', 'yuv420p']);
  await make('deep.mp4', ['-c:v', 'libx264', '-pix_fmt', 'yuv444p10le', '-crf', '0']);
  await make('alpha.mov', ['-vf', 'format=rgba', '-c:v', 'png']);
  const streamOf = async (f: string) =>
    (JSON.parse((await run(tools.ffprobe, ['-v', 'error', '-select_streams', 'v:0', '-show_streams', '-of', 'json', f])).stdout).streams as { pix_fmt: string; sample_aspect_ratio?: string }[])[0]!;

  const sar = await readVideo(join(dir, 'sar.mp4'), { tools });
  assert.deepEqual(sar.info.sampleAspect, { num: 2, den: 1 });
  await writeVideo(join(dir, 'sar-out.mp4'), sar.frames, { rate: sar.rate, tools, like: sar.info });
  assert.equal((await streamOf(join(dir, 'sar-out.mp4'))).sample_aspect_ratio, '2:1');

  const deep = await readVideo(join(dir, 'deep.mp4'), { tools });
  assert.ok(deep.frames[0]!.data.some((v) => Math.abs((v + 1) * 127.5 - Math.round((v + 1) * 127.5)) > 0.1), 'samples finer than 8 bits are kept');
  await writeVideo(join(dir, 'deep-out.mp4'), deep.frames, { rate: deep.rate, tools, like: deep.info });
  assert.equal((await streamOf(join(dir, 'deep-out.mp4'))).pix_fmt, 'yuv444p10le');
  const back = await readVideo(join(dir, 'deep-out.mp4'), { tools });
  // written as 8-bit 4:2:0 this clip comes back at 28 dB
  assert.ok(meanPsnr(deep.frames, back.frames) > 35, `10-bit 4:4:4 round trip at ${meanPsnr(deep.frames, back.frames).toFixed(1)} dB`);

  const alpha = await readVideo(join(dir, 'alpha.mov'), { tools });
  const warnings: string[] = [];
  await writeVideo(join(dir, 'alpha-out.mp4'), alpha.frames, { rate: alpha.rate, tools, like: alpha.info, onWarning: (m) => warnings.push(m) });
  assert.deepEqual(warnings.length, 1);
  assert.match(warnings[0]!, /alpha\.mov has an alpha channel \(rgba\), which H\.264 cannot hold: the output is opaque/);
});

test('a clip with a variable frame rate is refused with how to convert it; constant-rate clips pass', { timeout: 60_000 }, async () => {
  const vfr = join(dir, 'vfr.mp4');
  await run(tools.ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10', '-frames:v', '17', '-vf', 'setpts=if(lt(N\\,8)\\,N\\,N*2)/(10*TB)', '-vsync', 'vfr', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', vfr]);
  await assert.rejects(assertConstantRate(vfr, await probeVideo(vfr, tools), tools), /vfr\.mp4 has a variable frame rate \(frames 100 to \d+ ms apart\).*convert it to a constant rate first, e\.g\. ffmpeg -i .*vfr\.mp4 -vf fps=\S+ -c:a copy constant-rate\.mp4/);
  for (const clip of [WIDE, PORTRAIT]) await assertConstantRate(clip, await probeVideo(clip, tools), tools);
});
