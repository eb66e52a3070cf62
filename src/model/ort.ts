/**
 * The only module that imports onnxruntime-node. It opens ONNX graphs on a device (an execution
 * provider), checks every feed against the graph's declared inputs before a run, converts float32
 * values at the edges of float16 ports, can keep chosen outputs in the device's memory between
 * calls, counts the bytes that cross between host and device, and turns a failed run into an
 * error that lists each input's name, dtype and shape (the transformers.js pattern).
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import * as ort from 'onnxruntime-node';
import type { Tensor } from '../media/tensor.js';
import { DEFAULT_DEVICE, howToGet, keepsOutputsOnDevice, missingProvider, noAdapter, type Device, type Provider } from './devices.js';
import { fromFloat16, toFloat16 } from './float16.js';
import { sessionThreads } from './threads.js';
import { callEnd, callRead, callRun, callStart } from '../media/profile.js';

// onnxruntime-node 1.30 on Linux and macOS records usage telemetry unless told not to: a device id
// and an event database under the user's cache folder (Microsoft/DeveloperTools/.onnxruntime),
// `.ses` and `mat-debug-<pid>.log` in the temp folder, and uploads. The runtime reads this variable
// when the process creates its first session, after this module has loaded. A value the user set
// (0 opts back in) is kept. Only the main thread's process.env reaches the runtime (a worker's is a
// copy), so a program that opens graphs in workers must load this module in its main thread too, as
// the CLI does, or set the variable itself.
process.env.ORT_DISABLE_TELEMETRY ??= '1';

export type ElementType = 'float32' | 'float16' | 'int64';

/** Float element types a graph's ports may have. */
export type FloatType = 'float32' | 'float16';

/**
 * A tensor kept in a device's memory (a WebGPU buffer) between calls: it can only be fed to
 * another graph on the same device. Whoever receives one frees it with dispose() once used.
 */
export interface DeviceTensor {
  readonly location: 'device';
  readonly dtype: FloatType;
  readonly shape: readonly number[];
  dispose(): void;
}

/** A float tensor on the host (float32 data) or on the device. */
export type Value = Tensor | DeviceTensor;

export function onDevice(v: Value): v is DeviceTensor {
  return (v as DeviceTensor).location === 'device';
}

/** One input value: float32 data (converted at a float16 port), int64 token ids, or a tensor on the device. */
export type Feed =
  | { readonly dtype: 'float32'; readonly data: Float32Array; readonly shape: readonly number[] }
  | { readonly dtype: 'int64'; readonly data: BigInt64Array; readonly shape: readonly number[] }
  | DeviceTensor;

/** A declared graph input or output: symbolic axes are strings. */
export interface PortInfo {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly (number | string)[];
}

/**
 * onnxruntime session settings (docs/lab/cpu-speed.md measures them). Absent fields take
 * SESSION_DEFAULTS; threads come from GraphOptions.threads.
 */
export interface SessionTuning {
  /** graph optimisation level */
  readonly optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** intra-op worker threads spin while waiting for work (session.intra_op.allow_spinning) */
  readonly spinning?: boolean;
  /** onnxruntime's CPU memory arena */
  readonly memArena?: boolean;
  /** onnxruntime's memory pattern (planned buffers for repeated shapes) */
  readonly memPattern?: boolean;
  /** operators run one after another or, where the graph allows, side by side */
  readonly executionMode?: 'sequential' | 'parallel';
  /** threads running operators side by side (executionMode parallel) */
  readonly interOpThreads?: number;
  /** session.intra_op.dynamic_block_base: how finely an operator's work is split among the threads (absent: onnxruntime's default) */
  readonly dynamicBlockBase?: number;
}

/** The settings every graph opens with unless told otherwise (the study in docs/lab/cpu-speed.md). */
export const SESSION_DEFAULTS: Required<Omit<SessionTuning, 'interOpThreads' | 'dynamicBlockBase'>> = {
  optimization: 'all',
  spinning: true,
  memArena: true,
  memPattern: true,
  executionMode: 'sequential',
};

export interface GraphOptions {
  /** Threads for one operator (onnxruntime's intra-op pool); default: the physical cores on Linux, elsewhere onnxruntime's own count (sessionThreads). */
  readonly threads?: number;
  /** session settings (default SESSION_DEFAULTS) */
  readonly tuning?: SessionTuning;
  /** The execution provider (default cpu); never replaced by another when it fails. */
  readonly device?: Device;
  /** How runs of a graph given as bytes are counted in trafficSoFar (default "in-memory graph"). */
  readonly label?: string;
  /**
   * Outputs to keep in the device's memory, returned as DeviceTensor, where the device allows it
   * (WebGPU); elsewhere they come back to the host like the others.
   */
  readonly keepOnDevice?: readonly string[];
}

export interface OnnxGraph {
  readonly path: string;
  readonly device: Device;
  readonly inputs: readonly PortInfo[];
  readonly outputs: readonly PortInfo[];
  /** outputs that come back as DeviceTensor */
  readonly deviceOutputs: ReadonlySet<string>;
  /**
   * Runs the graph, returning only the outputs named in `fetches`, as float32 host tensors (float16
   * ports converted). An output named in `into` is written by onnxruntime straight into that host
   * tensor (its shape must be the output's) and comes back as it, where the graph runs on the CPU
   * and the port is float32; elsewhere `into` is ignored.
   */
  run(feeds: Readonly<Record<string, Feed>>, fetches: readonly string[], into?: Readonly<Record<string, Tensor>>): Promise<Record<string, Tensor>>;
  /** The same, but the outputs in deviceOutputs come back as DeviceTensor. */
  runKeeping(feeds: Readonly<Record<string, Feed>>, fetches: readonly string[], into?: Readonly<Record<string, Tensor>>): Promise<Record<string, Value>>;
  release(): Promise<void>;
}

/** Bytes that crossed between host and device through graph inputs and outputs (0 on the CPU). */
export interface Traffic {
  hostToDevice: number;
  deviceToHost: number;
  runs: number;
  /** per graph (its file name, or the label of a graph built in memory): runs and milliseconds inside them */
  graphs: Record<string, { runs: number; ms: number }>;
}

let traffic: Traffic = { hostToDevice: 0, deviceToHost: 0, runs: 0, graphs: {} };

/** What the runs since the process started (or the last resetTraffic) moved and took, in this thread. */
export function trafficSoFar(): Traffic {
  return { ...traffic, graphs: Object.fromEntries(Object.entries(traffic.graphs).map(([k, v]) => [k, { ...v }])) };
}

export function resetTraffic(): void {
  traffic = { hostToDevice: 0, deviceToHost: 0, runs: 0, graphs: {} };
}

export function floatFeed(t: Tensor): Feed {
  return { dtype: 'float32', data: t.data, shape: t.shape };
}

/** A host tensor as a feed, a device tensor as itself. */
export function valueFeed(v: Value): Feed {
  return onDevice(v) ? v : floatFeed(v);
}

/** The execution providers this onnxruntime-node install has, as it reports them. */
export function installedProviders(): Provider[] {
  return ort.listSupportedBackends().map((b) => ({ name: b.name, bundled: b.bundled }));
}

/** Whether a provider's library sits beside onnxruntime-node's binding (where its install step puts it). */
function providerLibraryPresent(name: string): boolean {
  const require = createRequire(import.meta.url);
  const pkg = dirname(require.resolve('onnxruntime-node/package.json'));
  const dir = join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
  return existsSync(join(dir, `libonnxruntime_providers_${name}.so`)) || existsSync(join(dir, `onnxruntime_providers_${name}.dll`));
}

const checkedDevices = new Map<Device, string | null>();

/** Refuses a device this install cannot run, with what it has and how to get the missing one. */
export function assertDeviceInstalled(device: Device): void {
  let problem = checkedDevices.get(device);
  if (problem === undefined) checkedDevices.set(device, (problem = missingProvider(device, installedProviders(), providerLibraryPresent)));
  if (problem !== null) throw new Error(problem);
}

function portsOf(meta: readonly ort.InferenceSession.ValueMetadata[]): PortInfo[] {
  return meta.map((m) =>
    m.isTensor ? { name: m.name, dtype: String(m.type), shape: [...m.shape] } : { name: m.name, dtype: 'non-tensor', shape: [] },
  );
}

function describeFeeds(feeds: Readonly<Record<string, Feed>>): string {
  return Object.entries(feeds)
    .map(([name, f]) => `  ${name}: ${f.dtype}${'location' in f ? ' (on the device)' : ''} [${f.shape.join(', ')}]`)
    .join('\n');
}

/** Whether a feed may go to a port of element type `want`: float32 host data also feeds float16 ports. */
function fits(feed: Feed, want: string): boolean {
  if (feed.dtype === want) return true;
  return want === 'float16' && feed.dtype === 'float32' && !('location' in feed);
}

/** Checks names, dtypes, ranks and fixed sizes of the feeds against the graph's inputs. */
export function checkFeeds(path: string, inputs: readonly PortInfo[], feeds: Readonly<Record<string, Feed>>): void {
  const problems: string[] = [];
  for (const port of inputs) {
    const feed = feeds[port.name];
    if (!feed) {
      problems.push(`missing input '${port.name}' (${port.dtype} [${port.shape.join(', ')}])`);
      continue;
    }
    if (!fits(feed, port.dtype)) problems.push(`input '${port.name}' must be ${port.dtype}, got ${feed.dtype}`);
    if (port.shape.length > 0 && feed.shape.length !== port.shape.length) {
      problems.push(`input '${port.name}' must have rank ${port.shape.length} [${port.shape.join(', ')}], got [${feed.shape.join(', ')}]`);
    } else {
      port.shape.forEach((dim, axis) => {
        if (typeof dim === 'number' && dim >= 0 && feed.shape[axis] !== dim) {
          problems.push(`input '${port.name}' axis ${axis} must be ${dim}, got ${feed.shape[axis]}`);
        }
      });
    }
  }
  const known = new Set(inputs.map((p) => p.name));
  for (const name of Object.keys(feeds)) {
    if (!known.has(name)) problems.push(`'${name}' is not an input of this graph (inputs: ${[...known].join(', ')})`);
  }
  if (problems.length > 0) {
    throw new Error(`Bad feeds for ${path}:\n  ${problems.join('\n  ')}`);
  }
}

/** The onnxruntime tensor behind each DeviceTensor flowedit handed out. */
const onDeviceTensors = new WeakMap<DeviceTensor, ort.Tensor>();

function wrapDevice(t: ort.Tensor): DeviceTensor {
  let freed = false;
  const value: DeviceTensor = {
    location: 'device',
    dtype: t.type as FloatType,
    shape: t.dims.map(Number),
    dispose() {
      if (freed) return;
      freed = true;
      t.dispose();
    },
  };
  onDeviceTensors.set(value, t);
  return value;
}

const BYTES: Record<string, number> = { float32: 4, float16: 2, int64: 8 };

/** The onnxruntime tensor for a feed at a port of element type `want`, and the host bytes it carries. */
function toOrt(feed: Feed, want: string): [ort.Tensor, number] {
  if ('location' in feed) {
    const t = onDeviceTensors.get(feed);
    if (!t) throw new Error('A device tensor fed to a graph was not made by flowedit');
    return [t, 0];
  }
  const shape = [...feed.shape];
  if (want === 'float16' && feed.dtype === 'float32') return [new ort.Tensor('float16', toFloat16(feed.data), shape), 2 * feed.data.length];
  return [new ort.Tensor(feed.dtype, feed.data, shape), BYTES[feed.dtype]! * feed.data.length];
}

function fromOrt(path: string, name: string, value: ort.Tensor | undefined): Tensor {
  if (value?.type === 'float32') return { data: value.data as Float32Array, shape: value.dims.map(Number) };
  if (value?.type === 'float16') return { data: fromFloat16(value.data as Uint16Array), shape: value.dims.map(Number) };
  throw new Error(`Output '${name}' of ${path} must be float32 or float16, got ${value ? value.type : 'nothing'}`);
}

/** Turns a session that could not be created on `device` into an error that says what to do. */
function openError(path: string, device: Device, err: Error): Error {
  const msg = err.message;
  if (device !== 'cpu' && /adapter|no supported|device not found|no CUDA-capable|driver/i.test(msg)) return new Error(`Cannot load ONNX graph ${path}: ${noAdapter(device, msg)}`);
  if (device !== 'cpu' && /Failed to load (shared )?library/i.test(msg)) {
    return new Error(`Cannot load ONNX graph ${path}: the ${device} provider's library did not load (${msg.split('\n')[0]}). To get it: ${howToGet(device)}.`);
  }
  return new Error(`Cannot load ONNX graph ${path}${device !== 'cpu' ? ` on ${device}` : ''}: ${msg}`);
}

/** Opens an ONNX graph from a file path (external data next to it is resolved by onnxruntime) or from bytes. */
export async function openGraph(source: string | Uint8Array, opts: GraphOptions = {}): Promise<OnnxGraph> {
  const device = opts.device ?? DEFAULT_DEVICE;
  const path = typeof source === 'string' ? source : `(${opts.label ?? 'in-memory graph'})`;
  const label = typeof source === 'string' ? basename(source) : (opts.label ?? 'in-memory graph');
  assertDeviceInstalled(device);
  let keep = keepsOutputsOnDevice(device) ? [...(opts.keepOnDevice ?? [])] : [];
  let session: ort.InferenceSession;
  try {
    const tuning = { ...SESSION_DEFAULTS, ...opts.tuning };
    const threads = opts.threads || sessionThreads();
    const options: ort.InferenceSession.SessionOptions & { preferredOutputLocation?: Record<string, ort.Tensor.DataLocation> } = {
      executionProviders: [device], // flowedit's device names are onnxruntime's provider names
      graphOptimizationLevel: tuning.optimization,
      // errors only: the warnings name nodes that stay on the CPU, which the device provider decides
      logSeverityLevel: 3,
      enableCpuMemArena: tuning.memArena,
      enableMemPattern: tuning.memPattern,
      executionMode: tuning.executionMode,
      extra: { session: { intra_op: { allow_spinning: tuning.spinning ? '1' : '0', ...(tuning.dynamicBlockBase ? { dynamic_block_base: String(tuning.dynamicBlockBase) } : {}) } } },
      ...(threads ? { intraOpNumThreads: threads } : {}),
      interOpNumThreads: 1,
      ...(tuning.interOpThreads ? { interOpNumThreads: tuning.interOpThreads } : {}),
    };
    for (;;) {
      if (keep.length > 0) options.preferredOutputLocation = Object.fromEntries(keep.map((name) => [name, 'gpu-buffer' as const]));
      else delete options.preferredOutputLocation;
      try {
        session = typeof source === 'string' ? await ort.InferenceSession.create(source, options) : await ort.InferenceSession.create(source, options);
        break;
      } catch (err) {
        // a kept name the graph lacks: open without it and leave it to the caller's port checks
        // (a pack lists every missing port at once)
        const missing = /"(.+)" is not a valid output name/.exec((err as Error).message)?.[1];
        if (missing === undefined || !keep.includes(missing)) throw err;
        keep = keep.filter((name) => name !== missing);
      }
    }
  } catch (err) {
    throw openError(path, device, err as Error);
  }
  const inputs = portsOf(session.inputMetadata);
  const outputs = portsOf(session.outputMetadata);
  const outputNames = new Set(outputs.map((p) => p.name));
  const deviceOutputs = new Set(keep);
  const inputType = new Map(inputs.map((p) => [p.name, p.dtype]));
  const outputType = new Map(outputs.map((p) => [p.name, p.dtype]));
  const counts = device !== 'cpu';
  const graph: OnnxGraph = {
    path,
    device,
    inputs,
    outputs,
    deviceOutputs,
    async run(feeds, fetches, into) {
      const onIt = fetches.filter((name) => deviceOutputs.has(name));
      if (onIt.length > 0) throw new Error(`Outputs ${onIt.join(', ')} of ${path} stay on the device: run it with runKeeping`);
      return (await graph.runKeeping(feeds, fetches, into)) as Record<string, Tensor>;
    },
    async runKeeping(feeds, fetches, into) {
      checkFeeds(path, inputs, feeds);
      for (const name of fetches) {
        if (!outputNames.has(name)) throw new Error(`'${name}' is not an output of ${path} (outputs: ${[...outputNames].join(', ')})`);
      }
      callStart();
      const ortFeeds: Record<string, ort.Tensor> = {};
      let sent = 0;
      for (const [name, feed] of Object.entries(feeds)) {
        const [t, bytes] = toOrt(feed, inputType.get(name)!);
        ortFeeds[name] = t;
        sent += bytes;
      }
      // outputs written into the caller's buffers (no buffer made and copied per call)
      const given = new Map<string, Tensor>();
      if (into && device === 'cpu') for (const name of fetches) if (into[name] && outputType.get(name) === 'float32') given.set(name, into[name]);
      let result: ort.InferenceSession.ReturnType;
      callRun(label, sent);
      const started = performance.now();
      try {
        // once an output is bound to the device, onnxruntime runs only with every output fetched
        const names = keep.length > 0 ? [...outputNames] : [...fetches];
        result = given.size === 0 ? await session.run(ortFeeds, names) : await session.run(ortFeeds, Object.fromEntries(names.map((n) => [n, given.has(n) ? new ort.Tensor('float32', given.get(n)!.data, [...given.get(n)!.shape]) : null])));
      } catch (err) {
        callEnd(0);
        throw new Error(`Running ${path} failed${device !== 'cpu' ? ` on ${device}` : ''}: ${(err as Error).message}\nInputs were:\n${describeFeeds(feeds)}`);
      }
      const ended = performance.now();
      callRead();
      const out: Record<string, Value> = {};
      let received = 0;
      const wanted = new Set(fetches);
      for (const [name, value] of Object.entries(result)) {
        const t = value as ort.Tensor;
        if (deviceOutputs.has(name)) {
          if (wanted.has(name)) out[name] = wrapDevice(t);
          else t.dispose();
        } else if (given.has(name)) {
          out[name] = given.get(name)!;
          received += 4 * t.size;
        } else if (wanted.has(name)) {
          out[name] = fromOrt(path, name, t);
          received += (BYTES[t.type] ?? 4) * t.size;
        }
      }
      if (counts) {
        traffic.hostToDevice += sent;
        traffic.deviceToHost += received;
      }
      traffic.runs++;
      const g = (traffic.graphs[label] ??= { runs: 0, ms: 0 });
      g.runs++;
      g.ms += ended - started;
      callEnd(received);
      return out;
    },
    async release() {
      await session.release();
    },
  };
  return graph;
}
