/**
 * Video files through ffmpeg: probe, decode to frames, encode frames to H.264. This is the only
 * module in flowedit that talks to fluent-ffmpeg; everything above it sees a clip as a list of
 * planar float RGB frames (RgbImage) and a frame rate.
 *
 * Only raw options are passed to fluent-ffmpeg (no format or codec setters), so it never parses
 * ffmpeg's capability lists (which changed in ffmpeg 7).
 */
import { rename, rm, stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import ffmpeg from 'fluent-ffmpeg';
import { byteToFloat, floatToByte, type RgbImage } from './image.js';
import { tempPathFor } from './atomic-file.js';
import { findFfmpeg, type FfmpegTools } from './ffmpeg-tools.js';

/** A frame rate as the exact fraction ffmpeg reports (e.g. 30000/1001). */
export interface FrameRate {
  readonly num: number;
  readonly den: number;
}

export interface VideoInfo {
  readonly path: string;
  /** displayed size: after the rotation is applied */
  readonly width: number;
  readonly height: number;
  readonly rate: FrameRate;
  /** frames in the first video stream */
  readonly frames: number;
  /** rotation of the display matrix in degrees as ffprobe reports it (0, 90, 180, 270); decoded frames are upright */
  readonly rotation: number;
  readonly audio: boolean;
  readonly codec: string;
  /** codecs of the audio streams, in stream order (empty without audio) */
  readonly audioCodecs: readonly string[];
  /** index of the video stream used (the first that is not cover art) among all the file's streams */
  readonly stream: number;
}

/** A clip in memory: upright frames of one size and its frame rate. */
export interface Clip {
  readonly frames: readonly RgbImage[];
  readonly rate: FrameRate;
}

/** Audio codecs an MP4 holds; a MOV also holds PCM, Matroska holds them all. Others are re-encoded to AAC. */
const MP4_AUDIO = ['aac', 'mp3', 'alac', 'ac3', 'eac3', 'opus', 'flac'];

function containerHoldsAudio(container: string, codec: string): boolean {
  if (container === 'matroska') return true;
  return MP4_AUDIO.includes(codec) || (container === 'mov' && codec.startsWith('pcm_'));
}

/** Output containers flowedit writes H.264 into. */
const CONTAINERS: Record<string, string> = { '.mp4': 'mp4', '.m4v': 'mp4', '.mov': 'mov', '.mkv': 'matroska' };
export const VIDEO_OUTPUT_EXTENSIONS = Object.keys(CONTAINERS);
/** File name endings treated as video inputs without probing. */
export const VIDEO_INPUT_EXTENSIONS = ['.mp4', '.m4v', '.mov', '.mkv', '.webm', '.avi', '.mpg', '.mpeg', '.ts', '.gif', '.ogv', '.wmv', '.flv', '.3gp'];

export function isVideoPath(path: string): boolean {
  return VIDEO_INPUT_EXTENSIONS.includes(extname(path).toLowerCase());
}

export function fps(rate: FrameRate): number {
  return rate.num / rate.den;
}

export function rateText(rate: FrameRate): string {
  return `${rate.num}/${rate.den}`;
}

function parseRate(text: unknown): FrameRate | null {
  const m = /^(\d+)(?:\/(\d+))?$/.exec(String(text ?? ''));
  if (!m) return null;
  const num = Number(m[1]);
  const den = m[2] === undefined ? 1 : Number(m[2]);
  return num > 0 && den > 0 ? { num, den } : null;
}

function tail(stderr: string | null | undefined, lines = 3): string {
  const kept = (stderr ?? '').trim().split('\n').filter((l) => l.trim() !== '').slice(-lines);
  return kept.length > 0 ? `: ${kept.join(' | ')}` : '';
}

function notVideo(path: string, why: string): Error {
  return new Error(`Cannot read ${path} as a video (expected a clip ffmpeg can decode, e.g. MP4/H.264): ${why}`);
}

type ProbeData = ffmpeg.FfprobeData;

function runProbe(tools: FfmpegTools, path: string, options: string[]): Promise<ProbeData> {
  return new Promise((resolvePromise, reject) => {
    ffmpeg(path)
      .setFfprobePath(tools.ffprobe)
      .ffprobe(options, (err: Error | null, data: ProbeData) => (err ? reject(err) : resolvePromise(data)));
  });
}

/**
 * Probes a video file: displayed size, frame rate, frame count, rotation and whether it has
 * audio. Frame counts missing from the container are counted by decoding. Throws `Cannot read
 * <path> as a video …` for files that are not video or hold no frames.
 */
export async function probeVideo(path: string, tools?: FfmpegTools): Promise<VideoInfo> {
  const info = await stat(path).catch(() => null);
  if (!info) throw new Error(`Input not found: ${path}`);
  if (!info.isFile()) throw notVideo(path, 'it is not a regular file');
  if (info.size === 0) throw notVideo(path, 'the file is empty');
  const t = tools ?? (await findFfmpeg());
  let data: ProbeData;
  try {
    data = await runProbe(t, path, []);
  } catch (err) {
    throw notVideo(path, `ffprobe failed${tail((err as Error).message, 2)}`);
  }
  const video = data.streams.find((s) => s.codec_type === 'video' && !(s.disposition?.attached_pic === 1));
  if (!video) throw notVideo(path, 'it has no video stream');
  const width = Number(video.width);
  const height = Number(video.height);
  if (!(width > 0 && height > 0)) throw notVideo(path, 'its video stream has no size');
  const rate = parseRate(video.avg_frame_rate) ?? parseRate(video.r_frame_rate);
  if (!rate) throw notVideo(path, `its frame rate is unknown (${String(video.avg_frame_rate)})`);
  const raw = video as unknown as { rotation?: unknown; tags?: { rotate?: unknown } };
  const rotation = (((Number(raw.rotation ?? raw.tags?.rotate ?? 0) || 0) % 360) + 360) % 360;
  let frames = Number(video.nb_frames);
  if (!(Number.isInteger(frames) && frames > 0)) {
    const counted = await runProbe(t, path, ['-count_frames', '-select_streams', `${video.index}`]).catch(() => null);
    frames = Number(counted?.streams[0]?.nb_read_frames ?? 0);
  }
  if (!(frames > 0)) throw notVideo(path, 'it holds no video frames');
  const swap = rotation === 90 || rotation === 270;
  const audioCodecs = data.streams.filter((s) => s.codec_type === 'audio').map((s) => String(s.codec_name ?? 'unknown'));
  return {
    path,
    width: swap ? height : width,
    height: swap ? width : height,
    rate,
    frames,
    rotation,
    audio: audioCodecs.length > 0,
    codec: String(video.codec_name ?? 'unknown'),
    audioCodecs,
    stream: Number(video.index),
  };
}

/** Interleaved rgb24 bytes of one frame → planar float RGB in [-1, 1]. */
function fromRgb24(bytes: Uint8Array, width: number, height: number): RgbImage {
  const plane = width * height;
  const data = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    data[i] = byteToFloat(bytes[3 * i]!);
    data[plane + i] = byteToFloat(bytes[3 * i + 1]!);
    data[2 * plane + i] = byteToFloat(bytes[3 * i + 2]!);
  }
  return { width, height, data };
}

/** Planar float RGB → interleaved rgb24 bytes. */
function toRgb24(img: RgbImage): Buffer {
  const plane = img.width * img.height;
  const out = Buffer.alloc(3 * plane);
  const d = img.data;
  for (let i = 0; i < plane; i++) {
    out[3 * i] = floatToByte(d[i]!);
    out[3 * i + 1] = floatToByte(d[plane + i]!);
    out[3 * i + 2] = floatToByte(d[2 * plane + i]!);
  }
  return out;
}

/** Frames a container may overstate its count (nb_frames) by: decoding that many fewer is not an error. */
export const DECLARED_FRAME_SLACK = 2;

export interface DecodeOptions {
  readonly tools?: FfmpegTools;
  readonly signal?: AbortSignal;
  /** probe result, when the caller already has it */
  readonly info?: VideoInfo;
}

/** Kills ffmpeg when the signal aborts, also if it aborted before ffmpeg started; returns the cleanup. */
function killOnAbort(command: ReturnType<typeof ffmpeg>, signal: AbortSignal | undefined): () => void {
  const onAbort = () => command.kill('SIGKILL');
  signal?.addEventListener('abort', onAbort, { once: true });
  command.on('start', () => {
    if (signal?.aborted) onAbort(); // aborted before ffmpeg existed to be killed
  });
  return () => signal?.removeEventListener('abort', onAbort);
}

/**
 * Decodes every frame of the probed video stream (the first that is not cover art), upright, at its displayed size. Throws when
 * fewer frames decode than the file declares (a truncated or damaged file).
 */
export async function readVideo(path: string, opts: DecodeOptions = {}): Promise<Clip & { info: VideoInfo }> {
  opts.signal?.throwIfAborted();
  const tools = opts.tools ?? (await findFfmpeg());
  const info = opts.info ?? (await probeVideo(path, tools));
  const frameBytes = info.width * info.height * 3;
  const frames: RgbImage[] = [];
  await new Promise<void>((resolvePromise, reject) => {
    const out = new PassThrough();
    let pending: Buffer = Buffer.alloc(0);
    out.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= frameBytes) {
        frames.push(fromRgb24(pending.subarray(0, frameBytes), info.width, info.height));
        pending = pending.subarray(frameBytes);
      }
    });
    const command = ffmpeg(path)
      .setFfmpegPath(tools.ffmpeg)
      .outputOptions(['-map', `0:${info.stream}`, '-vsync', '0', '-f', 'rawvideo', '-pix_fmt', 'rgb24']);
    const release = killOnAbort(command, opts.signal);
    command
      .on('error', (err: Error, _stdout: string | null, stderr: string | null) => {
        release();
        reject(opts.signal?.aborted ? opts.signal.reason : notVideo(path, `ffmpeg could not decode it${tail(stderr)}`));
      })
      .on('end', () => {
        release();
        resolvePromise();
      })
      .pipe(out, { end: true });
  });
  // fewer frames than declared is a damaged file only when it is clearly short
  if (frames.length === 0) throw notVideo(path, 'no frame could be decoded');
  if (frames.length < info.frames - DECLARED_FRAME_SLACK) {
    throw notVideo(path, `only ${frames.length} of its ${info.frames} frames decode; the file is truncated or damaged`);
  }
  return { frames, rate: info.rate, info: { ...info, frames: frames.length } };
}

export interface EncodeOptions {
  readonly rate: FrameRate;
  /** a file whose audio streams go into the output: copied when the container holds their codec, else as AAC */
  readonly audioFrom?: string;
  readonly tools?: FfmpegTools;
  readonly signal?: AbortSignal;
  /** x264 constant rate factor: lower is closer to the frames (default 12: unmasked pixels stay above 35 dB PSNR) */
  readonly crf?: number;
  /** reports things worth knowing that do not stop the encode */
  readonly onWarning?: (message: string) => void;
  /** container metadata, e.g. { comment: '…' } */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** Refuses output names whose container flowedit does not write. */
export function assertVideoOutputName(path: string): void {
  if (!CONTAINERS[extname(path).toLowerCase()]) {
    throw new Error(`flowedit writes H.264 video into ${VIDEO_OUTPUT_EXTENSIONS.join(', ')} files: name the output ${path.replace(/\.[^./]*$/, '')}.mp4`);
  }
}

/**
 * Encodes frames to H.264 (yuv420p) at `rate`, with the audio of `audioFrom` (copied unchanged,
 * or re-encoded to AAC when the container cannot hold its codec). The
 * file is written under a temporary name in the same folder and renamed when ffmpeg finishes, so
 * a failed or cancelled encode leaves nothing behind. Odd sizes are padded by one pixel
 * (yuv420p needs even sides), with a warning.
 */
export async function writeVideo(path: string, frames: readonly RgbImage[], opts: EncodeOptions): Promise<void> {
  assertVideoOutputName(path);
  opts.signal?.throwIfAborted();
  const first = frames[0];
  if (!first) throw new Error(`Cannot write ${path}: there are no frames`);
  for (const [i, f] of frames.entries()) {
    if (f.width !== first.width || f.height !== first.height) {
      throw new Error(`Cannot write ${path}: frame ${i} is ${f.width}x${f.height} but frame 0 is ${first.width}x${first.height}`);
    }
  }
  const tools = opts.tools ?? (await findFfmpeg());
  const { width, height } = first;
  const container = CONTAINERS[extname(path).toLowerCase()]!;
  const tmp = tempPathFor(path);
  const video = [
    '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-crf', String(opts.crf ?? 12), '-preset', 'medium',
    '-r', rateText(opts.rate), '-vsync', '0',
  ];
  if (width % 2 !== 0 || height % 2 !== 0) {
    opts.onWarning?.(`${width}x${height} is not even on both sides, which H.264 yuv420p needs: the video is padded to ${width + (width % 2)}x${height + (height % 2)}`);
    video.push('-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2');
  }
  // audio is copied unchanged when the container holds its codec, else re-encoded to AAC
  const audioFrom = opts.audioFrom;
  const audioCodecs = audioFrom
    ? await probeVideo(audioFrom, tools).then(
        (info) => info.audioCodecs,
        (err: Error) => {
          opts.onWarning?.(`the audio of ${audioFrom} cannot be read, so the video is written without it (${err.message})`);
          return [];
        },
      )
    : [];
  const copy = audioCodecs.every((c) => containerHoldsAudio(container, c));
  const audio = audioCodecs.length > 0 ? ['-map', '1:a', ...(copy ? ['-c:a', 'copy'] : ['-c:a', 'aac', '-b:a', '192k'])] : [];
  const mp4 = container === 'mp4' || container === 'mov' ? ['-movflags', '+faststart'] : [];
  const metadata = Object.entries(opts.metadata ?? {}).flatMap(([k, v]) => ['-metadata', `${k}=${v}`]);
  const input = Readable.from(
    (function* () {
      for (const f of frames) yield toRgb24(f);
    })(),
  );
  try {
    await new Promise<void>((resolvePromise, reject) => {
      const command = ffmpeg()
        .setFfmpegPath(tools.ffmpeg)
        .input(input)
        .inputOptions(['-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-r', rateText(opts.rate)]);
      if (audioFrom && audio.length > 0) command.input(audioFrom);
      command.outputOptions(['-map', '0:v:0', ...audio, ...video, ...mp4, ...metadata, '-f', container]).output(tmp);
      const release = killOnAbort(command, opts.signal);
      command
        .on('error', (err: Error, _stdout: string | null, stderr: string | null) => {
          release();
          reject(opts.signal?.aborted ? opts.signal.reason : new Error(`Cannot write ${path}: ffmpeg failed${tail(stderr) || `: ${err.message}`}`));
        })
        .on('end', () => {
          release();
          resolvePromise();
        })
        .run();
    });
    // a cancel that came as ffmpeg finished still leaves no output
    opts.signal?.throwIfAborted();
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}
