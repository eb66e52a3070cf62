/**
 * Video files through ffmpeg: probe, decode to frames, encode frames to H.264. This is the only
 * module in flowedit that runs ffmpeg and ffprobe (started through ffmpeg-tools.ts); everything
 * above it sees a clip as planar float RGB frames (RgbImage) and a frame rate.
 *
 * Frames stream: a decode yields one frame at a time straight from ffmpeg's output pipe (scaled
 * by ffmpeg when a size is asked for), and an encode takes frames from any iterable, so a long
 * clip at full resolution is never held whole. Local files are always named `file:<absolute
 * path>`, so a name such as `concat:a.mp4|b.mp4` is read as the file it is.
 */
import { timedEach, timedIo } from './profile.js';
import { rename, rm, stat } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { byteToFloat, floatToByte, type RgbImage } from './image.js';
import { tempPathFor } from './atomic-file.js';
import { findFfmpeg, localFileUrl, startTool, type FfmpegTools, type ToolProcess } from './ffmpeg-tools.js';
import { assertInputPixels, DEFAULT_MAX_INPUT_PIXELS } from './limits.js';

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
  /** the video stream's pixel format as ffmpeg names it (e.g. yuv420p, yuv444p10le, yuva420p) */
  readonly pixelFormat: string;
  /** the pixel aspect ratio when it is not square (e.g. 2:1 for anamorphic video), else absent */
  readonly sampleAspect?: FrameRate;
}

/** What a pixel format holds: bits per sample, chroma subsampling (as RGB: 444) and whether it carries alpha. */
export interface PixelLayout {
  readonly depth: number;
  readonly chroma: '420' | '422' | '444';
  readonly alpha: boolean;
}

/** Reads depth, chroma and alpha from an ffmpeg pixel format name. */
export function pixelLayout(format: string): PixelLayout {
  const f = format.toLowerCase();
  const bits = /(?:p|le|be|gray|rgb|bgr)(9|10|12|14|16)(?:le|be)?$/.exec(f) ?? /^(?:rgb|bgr)a?(48|64)/.exec(f);
  const depth = bits ? (Number(bits[1]) >= 48 ? 16 : Number(bits[1])) : 8;
  const chroma = /420|nv12|nv21|p010|p016/.test(f) ? '420' : /422|nv16|nv20|yuyv|uyvy/.test(f) ? '422' : '444';
  const alpha = /^(yuva|rgba|bgra|argb|abgr|gbrap|ya\d|ya8|ya16|rgba64|bgra64)/.test(f);
  return { depth, chroma, alpha };
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

function notVideo(path: string, why: string): Error {
  return new Error(`Cannot read ${path} as a video (expected a clip ffmpeg can decode, e.g. MP4/H.264): ${why}`);
}

/** ffprobe's JSON for one stream: only the fields read here. */
interface ProbeStream {
  index: number;
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  nb_frames?: string;
  nb_read_frames?: string;
  nb_read_packets?: string;
  time_base?: string;
  disposition?: { attached_pic?: number };
  tags?: { rotate?: string };
  pix_fmt?: string;
  sample_aspect_ratio?: string;
  side_data_list?: { rotation?: number }[];
}

/** What ffprobe answered about one file. */
interface ProbeAnswer {
  streams: ProbeStream[];
  tags: Record<string, string>;
  /** the packets' timestamps, when asked for (packetOptions) */
  packets?: { pts?: number }[];
}

/**
 * ffprobe's options that count one stream's packets and list their timestamps, reading the
 * container only: one run serves both the completeness and the constant-rate check.
 */
function packetOptions(stream: string): string[] {
  return ['-count_packets', '-select_streams', stream, '-show_entries', 'packet=pts'];
}

/**
 * The stream specifier packetOptions takes for the probed stream: `v:k`, the k-th video stream.
 * The plain probe it reads is the one probeVideo made (kept), so this runs no ffprobe of its own.
 */
async function videoStreamSpecifier(tools: FfmpegTools, path: string, info: VideoInfo): Promise<string> {
  const { streams } = await runProbe(tools, path, []);
  const k = streams.filter((s) => s.codec_type === 'video').findIndex((s) => s.index === info.stream);
  return k >= 0 ? `v:${k}` : String(info.stream);
}

/** The packets of the probed stream (packetOptions), kept like any probe. */
async function packetsOf(tools: FfmpegTools, path: string, info: VideoInfo): Promise<ProbeAnswer> {
  return runProbe(tools, path, packetOptions(await videoStreamSpecifier(tools, path, info)));
}

/** Recent probes' answers, by ffprobe, file (path, size, change time, inode) and options: a job probes its clip and mask several times. */
const probes = new Map<string, ProbeAnswer>();
const KEPT_PROBES = 32;

/**
 * The probe answers this thread keeps, as [key, answer] pairs another thread can take with
 * keepProbeAnswers (postMessage copies them); not those listing packets (a long clip's run to many
 * thousands, and only the checks before a job read them).
 */
export function probeAnswers(): [string, unknown][] {
  return [...probes].filter(([, v]) => v.packets === undefined);
}

/**
 * Takes probe answers another thread made (probeAnswers), e.g. the checks' before a job runs on a
 * worker: each is used only while its file is unchanged (its key names the file's size, times and
 * inode), so a stale one is never read.
 */
export function keepProbeAnswers(answers: readonly (readonly [string, unknown])[]): void {
  for (const [key, answer] of answers.slice(-KEPT_PROBES)) {
    const a = answer as Partial<ProbeAnswer> | null;
    if (typeof key !== 'string' || !a || !Array.isArray(a.streams) || typeof a.tags !== 'object' || a.tags === null) continue;
    probes.delete(key);
    if (probes.size >= KEPT_PROBES) probes.delete(probes.keys().next().value!);
    probes.set(key, a as ProbeAnswer); // a copy already: it came through postMessage
  }
}

/**
 * Runs ffprobe with JSON output on a local file; throws with ffprobe's last stderr lines when it
 * fails. The answer for a file not changed since (same size, modification time and inode) is the
 * one kept from the last probe with the same options.
 */
async function runProbe(tools: FfmpegTools, path: string, options: readonly string[], signal?: AbortSignal): Promise<ProbeAnswer> {
  const st = await stat(path).catch(() => null);
  const key = st ? JSON.stringify([tools.ffprobe, resolve(path), st.size, st.mtimeMs, st.ctimeMs, st.ino, options]) : null;
  const kept = key === null ? undefined : probes.get(key);
  if (kept) return structuredClone(kept);
  const got = await timedIo('ffmpeg', () => probeRun(tools, path, options, signal));
  if (key !== null) {
    if (probes.size >= KEPT_PROBES) probes.delete(probes.keys().next().value!);
    probes.set(key, structuredClone(got));
  }
  return got;
}

/** The work of runProbe. */
async function probeRun(tools: FfmpegTools, path: string, options: readonly string[], signal?: AbortSignal): Promise<ProbeAnswer> {
  const proc = await startTool(tools.ffprobe, ['-v', 'error', '-print_format', 'json', '-show_streams', ...options, localFileUrl(path)], { stdout: 'pipe', ...(signal ? { signal } : {}) });
  const chunks: Buffer[] = [];
  proc.stdout!.on('data', (c: Buffer) => chunks.push(c));
  const end = await proc.exited;
  signal?.throwIfAborted();
  if (end.code !== 0) throw new Error(end.error?.message ?? (proc.stderrTail(2) || `exit status ${String(end.code ?? end.signal)}`));
  try {
    const data = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { streams?: ProbeStream[]; format?: { tags?: Record<string, string> }; packets?: { pts?: number }[] };
    return { streams: data.streams ?? [], tags: data.format?.tags ?? {}, ...(data.packets ? { packets: data.packets } : {}) };
  } catch {
    throw new Error('ffprobe wrote no readable JSON');
  }
}

/** A non-square pixel aspect ratio from ffprobe's `num:den`, turned with the picture when it is rotated a quarter. */
function sampleAspectOf(text: string | undefined, quarterTurn: boolean): { sampleAspect?: FrameRate } {
  const m = /^(\d+):(\d+)$/.exec(text ?? '');
  if (!m) return {};
  const num = Number(m[1]);
  const den = Number(m[2]);
  if (!(num > 0 && den > 0) || num === den) return {};
  return { sampleAspect: quarterTurn ? { num: den, den: num } : { num, den } };
}

/**
 * A media file's container tags (ffprobe's format tags, e.g. comment and description), keys in
 * lower case. Throws `Cannot read <path> as a video …` when ffprobe cannot read it.
 */
export async function readContainerTags(path: string, tools?: FfmpegTools): Promise<Record<string, string>> {
  const t = tools ?? (await findFfmpeg());
  let tags: Record<string, string>;
  try {
    tags = (await runProbe(t, path, ['-show_format'])).tags;
  } catch (err) {
    throw notVideo(path, `ffprobe failed: ${(err as Error).message}`);
  }
  return Object.fromEntries(Object.entries(tags).map(([k, v]) => [k.toLowerCase(), String(v)]));
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
  let data: { streams: ProbeStream[] };
  try {
    data = await runProbe(t, path, []);
  } catch (err) {
    throw notVideo(path, `ffprobe failed: ${(err as Error).message}`);
  }
  const video = data.streams.find((s) => s.codec_type === 'video' && !(s.disposition?.attached_pic === 1));
  if (!video) throw notVideo(path, 'it has no video stream');
  const width = Number(video.width);
  const height = Number(video.height);
  if (!(width > 0 && height > 0)) throw notVideo(path, 'its video stream has no size');
  const rate = parseRate(video.avg_frame_rate) ?? parseRate(video.r_frame_rate);
  if (!rate) throw notVideo(path, `its frame rate is unknown (${String(video.avg_frame_rate)})`);
  const turn = video.side_data_list?.find((d) => d.rotation !== undefined)?.rotation ?? video.tags?.rotate ?? 0;
  const rotation = (((Math.round(Number(turn)) || 0) % 360) + 360) % 360;
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
    pixelFormat: String(video.pix_fmt ?? 'unknown'),
    ...sampleAspectOf(video.sample_aspect_ratio, swap),
  };
}

/**
 * Checks, without decoding, that the file holds the frames it declares: ffprobe counts the video
 * stream's packets (reading the container only). Throws `Cannot read <path> as a video …: only N
 * of its M frames are in the file …` for a truncated file; run it before a long job reads the clip.
 */
export async function assertVideoComplete(path: string, info: VideoInfo, tools?: FfmpegTools): Promise<void> {
  const t = tools ?? (await findFfmpeg());
  let packets: number;
  try {
    const data = await packetsOf(t, path, info);
    packets = Number(data.streams[0]?.nb_read_packets ?? NaN);
  } catch (err) {
    throw notVideo(path, `ffprobe could not read it through: ${(err as Error).message}`);
  }
  if (!Number.isFinite(packets)) throw notVideo(path, 'ffprobe could not count its frames');
  if (packets < info.frames - DECLARED_FRAME_SLACK) {
    throw notVideo(path, `only ${packets} of its ${info.frames} frames are in the file; it is truncated or damaged (re-export or copy it again)`);
  }
}

/**
 * Refuses a clip whose frames are not evenly spaced in time (variable frame rate): flowedit writes
 * clips at one constant rate, which would shift such a clip's timing against its audio. Reads
 * the packets' timestamps only (no decoding). The message says how to convert the clip first.
 */
export async function assertConstantRate(path: string, info: VideoInfo, tools?: FfmpegTools): Promise<void> {
  const t = tools ?? (await findFfmpeg());
  let data: ProbeAnswer;
  try {
    data = await packetsOf(t, path, info);
  } catch (err) {
    throw notVideo(path, `ffprobe could not read its timestamps: ${(err as Error).message}`);
  }
  const base = parseRate(data.streams?.[0]?.time_base);
  const pts = (data.packets ?? []).map((p) => p.pts).filter((v): v is number => typeof v === 'number').sort((a, b) => a - b);
  if (!base || pts.length < 3) return;
  const steps = pts.slice(1).map((v, i) => ((v - pts[i]!) * base.num) / base.den); // seconds between frames
  const nominal = rate2seconds(info.rate);
  const shortest = Math.min(...steps);
  const longest = Math.max(...steps);
  if (longest - shortest > 0.5 * nominal) {
    const fpsText = Number.isInteger(fps(info.rate)) ? String(fps(info.rate)) : rateText(info.rate);
    throw new Error(
      `${path} has a variable frame rate (frames ${(shortest * 1000).toFixed(0)} to ${(longest * 1000).toFixed(0)} ms apart), and flowedit writes clips at one constant rate, which would shift its timing against its sound: convert it to a constant rate first, e.g. ffmpeg -i ${path} -vf fps=${fpsText} -c:a copy constant-rate.mp4, and edit that`,
    );
  }
}

function rate2seconds(rate: FrameRate): number {
  return rate.den / rate.num;
}

/** Interleaved rgb24 bytes of one frame → planar float RGB in [-1, 1]. */
function fromRgb24(bytes: Uint8Array, width: number, height: number): RgbImage {
  const plane = width * height;
  const data = new Float32Array(3 * plane);
  for (let i = 0, j = 0; i < plane; i++, j += 3) {
    data[i] = byteToFloat(bytes[j]!);
    data[plane + i] = byteToFloat(bytes[j + 1]!);
    data[2 * plane + i] = byteToFloat(bytes[j + 2]!);
  }
  return { width, height, data };
}

/** Interleaved rgb48le samples of one frame → planar float RGB in [-1, 1]. */
function fromRgb48(bytes: Buffer, width: number, height: number): RgbImage {
  const plane = width * height;
  const data = new Float32Array(3 * plane);
  const scale = 2 / 65535;
  for (let i = 0, j = 0; i < plane; i++, j += 6) {
    data[i] = bytes.readUInt16LE(j) * scale - 1;
    data[plane + i] = bytes.readUInt16LE(j + 2) * scale - 1;
    data[2 * plane + i] = bytes.readUInt16LE(j + 4) * scale - 1;
  }
  return { width, height, data };
}

/** Planar float RGB → interleaved rgb48le samples, clamped. */
function toRgb48(img: RgbImage): Buffer {
  const plane = img.width * img.height;
  const out = Buffer.alloc(6 * plane);
  const d = img.data;
  for (let i = 0, j = 0; i < plane; i++, j += 6) {
    for (let c = 0; c < 3; c++) {
      const v = Math.round((d[c * plane + i]! + 1) * 32767.5);
      out.writeUInt16LE(v < 0 || !(v === v) ? 0 : v > 65535 ? 65535 : v, j + 2 * c);
    }
  }
  return out;
}

/** Planar float RGB → interleaved rgb24 bytes. */
function toRgb24(img: RgbImage): Buffer {
  const plane = img.width * img.height;
  const out = Buffer.alloc(3 * plane);
  const d = img.data;
  for (let i = 0, j = 0; i < plane; i++, j += 3) {
    out[j] = floatToByte(d[i]!);
    out[j + 1] = floatToByte(d[plane + i]!);
    out[j + 2] = floatToByte(d[2 * plane + i]!);
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
  /**
   * the size frames are decoded to (ffmpeg scales them, Lanczos): e.g. a model's working size, so
   * the full-resolution frames never reach memory; default the displayed size
   */
  readonly size?: { readonly width: number; readonly height: number };
  /** refuse a clip whose frames hold more pixels than this, before decoding (default DEFAULT_MAX_INPUT_PIXELS) */
  readonly maxInputPixels?: number;
}

function checkDecodeSize(size: { width: number; height: number }): void {
  for (const [name, v] of [['width', size.width], ['height', size.height]] as const) {
    if (!(Number.isInteger(v) && v > 0)) throw new Error(`Expected a positive integer for the decode ${name} but received ${String(v)}`);
  }
}

/** Whether frames of this clip are decoded (and encoded) with 16 bits per sample: its depth is above 8. */
function wideSamples(info: Pick<VideoInfo, 'pixelFormat'>): boolean {
  return pixelLayout(info.pixelFormat).depth > 8;
}

/** ffmpeg's arguments for decoding the probed stream to raw RGB (rgb24, or rgb48le above 8 bits) at `size`, on stdout. */
function decodeArgs(path: string, info: VideoInfo, size: { width: number; height: number }): string[] {
  const scale = size.width === info.width && size.height === info.height ? [] : ['-vf', `scale=${size.width}:${size.height}:flags=lanczos`];
  return ['-nostdin', '-v', 'error', '-i', localFileUrl(path), '-map', `0:${info.stream}`, '-vsync', '0', ...scale, '-f', 'rawvideo', '-pix_fmt', wideSamples(info) ? 'rgb48le' : 'rgb24', 'pipe:1'];
}

/** Turns how a decode ended into an error (or none), after its output was read to the end. */
async function decodeEnd(proc: ToolProcess, path: string, signal: AbortSignal | undefined): Promise<void> {
  const end = await proc.exited;
  signal?.throwIfAborted();
  if (end.code !== 0) {
    const why = end.error?.message ?? proc.stderrTail();
    throw notVideo(path, `ffmpeg could not decode it${why ? `: ${why}` : ` (exit status ${String(end.code ?? end.signal)})`}`);
  }
}

/**
 * Streams the frames of the probed video stream (the first that is not cover art), upright, at
 * its displayed size or at `opts.size`, one at a time as ffmpeg decodes them: only the frame
 * being handed out is held. Stopping early (break, return) kills ffmpeg. Throws when fewer frames
 * decode than the file declares (a truncated or damaged file), after the frames that did.
 */
export function videoFrames(path: string, opts: DecodeOptions = {}): AsyncGenerator<RgbImage, void, undefined> {
  return timedEach('decode', decodeFrames(path, opts));
}

/** The work of videoFrames. */
async function* decodeFrames(path: string, opts: DecodeOptions): AsyncGenerator<RgbImage, void, undefined> {
  const { signal } = opts;
  signal?.throwIfAborted();
  const tools = opts.tools ?? (await findFfmpeg());
  const info = opts.info ?? (await probeVideo(path, tools));
  assertInputPixels(path, info.width, info.height, opts.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS);
  const size = opts.size ?? info;
  checkDecodeSize(size);
  signal?.throwIfAborted();
  const proc = await startTool(tools.ffmpeg, decodeArgs(path, info, size), { stdout: 'pipe', ...(signal ? { signal } : {}) });
  const wide = wideSamples(info);
  const frameBytes = size.width * size.height * (wide ? 6 : 3);
  const frame = Buffer.allocUnsafe(frameBytes); // one frame's bytes, filled from the pipe's chunks
  let filled = 0;
  let count = 0;
  let finished = false;
  try {
    for await (const chunk of proc.stdout! as AsyncIterable<Buffer>) {
      for (let at = 0; at < chunk.length; ) {
        const n = Math.min(frameBytes - filled, chunk.length - at);
        chunk.copy(frame, filled, at, at + n);
        filled += n;
        at += n;
        if (filled === frameBytes) {
          filled = 0;
          count += 1;
          yield wide ? fromRgb48(frame, size.width, size.height) : fromRgb24(frame, size.width, size.height);
        }
      }
    }
    await decodeEnd(proc, path, signal);
    finished = true;
  } finally {
    if (!finished) {
      proc.kill();
      await proc.exited;
    }
  }
  // fewer frames than declared is a damaged file only when it is clearly short
  if (count === 0) throw notVideo(path, 'no frame could be decoded');
  if (count < info.frames - DECLARED_FRAME_SLACK) {
    throw notVideo(path, `only ${count} of its ${info.frames} frames decode; the file is truncated or damaged`);
  }
}

/**
 * Decodes every frame of the probed video stream (the first that is not cover art), upright, at
 * its displayed size (or `opts.size`), into memory. Throws when fewer frames decode than the file
 * declares (a truncated or damaged file). For long or large clips, videoFrames streams instead.
 */
export function readVideo(path: string, opts: DecodeOptions = {}): Promise<Clip & { info: VideoInfo }> {
  return timedIo('decode', () => decodeVideo(path, opts));
}

/** The work of readVideo. */
async function decodeVideo(path: string, opts: DecodeOptions): Promise<Clip & { info: VideoInfo }> {
  opts.signal?.throwIfAborted();
  const tools = opts.tools ?? (await findFfmpeg());
  const info = opts.info ?? (await probeVideo(path, tools));
  const frames: RgbImage[] = [];
  for await (const f of videoFrames(path, { ...opts, tools, info })) frames.push(f);
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
  /**
   * the source clip (its probe) whose format the output keeps where H.264 can: its pixel aspect
   * ratio, its bit depth (10 bits for deeper sources) and its chroma (4:2:0, 4:2:2 or 4:4:4); an
   * alpha channel cannot be kept and is dropped with a warning
   */
  readonly like?: VideoInfo;
}

/** What the output keeps of `like`: x264's pixel format, 16-bit input samples, and the filters and warnings that go with them. */
function outputFormat(like: VideoInfo | undefined, onWarning: ((m: string) => void) | undefined): { pixFmt: string; wide: boolean; filters: string[] } {
  if (!like) return { pixFmt: 'yuv420p', wide: false, filters: [] };
  const layout = pixelLayout(like.pixelFormat);
  const wide = layout.depth > 8;
  if (layout.depth > 10) onWarning?.(`${like.path} has ${layout.depth}-bit samples; H.264 is written with 10`);
  if (layout.alpha) onWarning?.(`${like.path} has an alpha channel (${like.pixelFormat}), which H.264 cannot hold: the output is opaque`);
  const pixFmt = `yuv${layout.chroma}p${wide ? '10le' : ''}`;
  const filters = like.sampleAspect ? [`setsar=${like.sampleAspect.num}/${like.sampleAspect.den}`] : [];
  return { pixFmt, wide, filters };
}

/** Refuses output names whose container flowedit does not write. */
export function assertVideoOutputName(path: string): void {
  if (!CONTAINERS[extname(path).toLowerCase()]) {
    throw new Error(`flowedit writes H.264 video into ${VIDEO_OUTPUT_EXTENSIONS.join(', ')} files: name the output ${path.replace(/\.[^./]*$/, '')}.mp4`);
  }
}

/** Frames to encode: an array, or any (async) iterable that yields them one at a time. */
export type FrameSource = Iterable<RgbImage> | AsyncIterable<RgbImage>;

function frameIterator(frames: FrameSource): AsyncIterator<RgbImage> | Iterator<RgbImage> {
  return Symbol.asyncIterator in frames ? frames[Symbol.asyncIterator]() : frames[Symbol.iterator]();
}

/** Resolves when `proc` can take more input, or when it has exited (then false). */
async function ready(proc: ToolProcess): Promise<boolean> {
  const stdin = proc.stdin!;
  return Promise.race([
    new Promise<boolean>((resolve) => stdin.once('drain', () => resolve(true))),
    proc.exited.then(() => false),
  ]);
}

/**
 * Encodes frames to H.264 (yuv420p) at `rate`, with the audio of `audioFrom` (copied unchanged,
 * or re-encoded to AAC when the container cannot hold its codec). `frames` may be an array or an
 * (async) iterable: frames are taken one at a time as ffmpeg consumes them, so a clip need not
 * be held whole. The file is written under a temporary name in the same folder and renamed when
 * ffmpeg finishes, so a failed or cancelled encode leaves nothing behind. Odd sizes are padded by
 * one pixel (yuv420p needs even sides), with a warning.
 */
export function writeVideo(path: string, frames: FrameSource, opts: EncodeOptions): Promise<void> {
  return timedIo('encode', () => encodeVideo(path, frames, opts));
}

/** The work of writeVideo. */
async function encodeVideo(path: string, frames: FrameSource, opts: EncodeOptions): Promise<void> {
  assertVideoOutputName(path);
  opts.signal?.throwIfAborted();
  const sizeError = (i: number, f: RgbImage, first: RgbImage) => new Error(`Cannot write ${path}: frame ${i} is ${f.width}x${f.height} but frame 0 is ${first.width}x${first.height}`);
  if (Array.isArray(frames)) {
    const all = frames as readonly RgbImage[];
    for (const [i, f] of all.entries()) if (f.width !== all[0]!.width || f.height !== all[0]!.height) throw sizeError(i, f, all[0]!);
  }
  const it = frameIterator(frames);
  const head = await it.next();
  if (head.done) throw new Error(`Cannot write ${path}: there are no frames`);
  const first = head.value;
  let closed = false;
  const closeFrames = async () => {
    if (!closed) {
      closed = true;
      await it.return?.();
    }
  };
  try {
    await encodeFrames(path, first, it, opts, sizeError);
    closed = true;
  } finally {
    await closeFrames();
  }
}

async function encodeFrames(
  path: string,
  first: RgbImage,
  it: AsyncIterator<RgbImage> | Iterator<RgbImage>,
  opts: EncodeOptions,
  sizeError: (i: number, f: RgbImage, first: RgbImage) => Error,
): Promise<void> {
  const tools = opts.tools ?? (await findFfmpeg());
  const { width, height } = first;
  const container = CONTAINERS[extname(path).toLowerCase()]!;
  const format = outputFormat(opts.like, opts.onWarning);
  const video = [
    '-c:v', 'libx264', '-pix_fmt', format.pixFmt, '-crf', String(opts.crf ?? 12), '-preset', 'medium',
    '-r', rateText(opts.rate), '-vsync', '0',
  ];
  const filters = [...format.filters];
  const subsampled = format.pixFmt.startsWith('yuv420') ? [width, height] : format.pixFmt.startsWith('yuv422') ? [width] : [];
  if (subsampled.some((side) => side % 2 !== 0)) {
    opts.onWarning?.(`${width}x${height} is not even on both sides, which H.264 ${format.pixFmt} needs: the video is padded to ${width + (width % 2)}x${height + (height % 2)}`);
    filters.unshift('pad=ceil(iw/2)*2:ceil(ih/2)*2');
  }
  if (filters.length > 0) video.push('-vf', filters.join(','));
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
  const audioInput = audioFrom && audioCodecs.length > 0 ? ['-i', localFileUrl(audioFrom)] : [];
  const audio = audioInput.length > 0 ? ['-map', '1:a', ...(copy ? ['-c:a', 'copy'] : ['-c:a', 'aac', '-b:a', '192k'])] : [];
  const mp4 = container === 'mp4' || container === 'mov' ? ['-movflags', '+faststart'] : [];
  const metadata = Object.entries(opts.metadata ?? {}).flatMap(([k, v]) => ['-metadata', `${k}=${v}`]);
  opts.signal?.throwIfAborted(); // a cancel from the warnings above stops the encode before it starts
  const tmp = tempPathFor(path);
  const args = [
    '-nostdin', '-v', 'error', '-y',
    '-f', 'rawvideo', '-pix_fmt', format.wide ? 'rgb48le' : 'rgb24', '-s', `${width}x${height}`, '-r', rateText(opts.rate), '-i', 'pipe:0',
    ...audioInput,
    '-map', '0:v:0', ...audio, ...video, ...mp4, ...metadata, '-f', container, localFileUrl(tmp),
  ];
  const proc = await startTool(tools.ffmpeg, args, { stdin: 'pipe', ...(opts.signal ? { signal: opts.signal } : {}) });
  const failed = (end: { code: number | null; signal: NodeJS.Signals | null; error?: Error }) =>
    new Error(`Cannot write ${path}: ffmpeg failed: ${end.error?.message ?? (proc.stderrTail() || `exit status ${String(end.code ?? end.signal)}`)}`);
  try {
    const stdin = proc.stdin!;
    let frame: RgbImage = first;
    for (let i = 0; ; i++) {
      opts.signal?.throwIfAborted();
      if (frame.width !== width || frame.height !== height) throw sizeError(i, frame, first);
      if (!stdin.write(format.wide ? toRgb48(frame) : toRgb24(frame)) && !(await ready(proc))) break; // ffmpeg stopped: its exit says why
      const next = await it.next();
      if (next.done) break;
      frame = next.value;
    }
    stdin.end();
    const end = await proc.exited;
    opts.signal?.throwIfAborted(); // a cancel that came as ffmpeg finished still leaves no output
    if (end.code !== 0) throw failed(end);
    await rename(tmp, path);
  } catch (err) {
    proc.kill();
    await proc.exited;
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}

/**
 * The checks to make on a clip before a long job reads it: probed, within `maxInputPixels`,
 * complete (its packets against its declared frames) and at a constant frame rate. Returns the probe.
 */
export async function assertClipReadable(path: string, tools: FfmpegTools, maxInputPixels: number = DEFAULT_MAX_INPUT_PIXELS): Promise<VideoInfo> {
  // the packets of the first video stream are listed beside the probe (two ffprobe runs at once, each
  // mostly start-up): that is the probed stream unless cover art comes first, and then they are listed again
  const firstStream = stat(path).then((st) => (st.isFile() && st.size > 0 ? runProbe(tools, path, packetOptions('v:0')) : null)).catch(() => null);
  const info = await probeVideo(path, tools).finally(() => firstStream);
  assertInputPixels(path, info.width, info.height, maxInputPixels);
  await assertVideoComplete(path, info, tools);
  await assertConstantRate(path, info, tools);
  return info;
}
