/**
 * The only module that imports onnxruntime-node. It opens ONNX graphs, checks every feed
 * against the graph's declared inputs before a run, and turns a failed run into an error that
 * lists each input's name, dtype and shape (the transformers.js pattern).
 */
import * as ort from 'onnxruntime-node';
import type { Tensor } from '../media/tensor.js';

// onnxruntime-node 1.30 on Linux and macOS records usage telemetry unless told not to: a device id
// and an event database under the user's cache folder (Microsoft/DeveloperTools/.onnxruntime),
// `.ses` and `mat-debug-<pid>.log` in the temp folder, and uploads. The runtime reads this variable
// when the process creates its first session, after this module has loaded. A value the user set
// (0 opts back in) is kept. Only the main thread's process.env reaches the runtime (a worker's is a
// copy), so a program that opens graphs in workers must load this module in its main thread too, as
// the CLI does, or set the variable itself.
process.env.ORT_DISABLE_TELEMETRY ??= '1';

export type ElementType = 'float32' | 'int64';

/** One input value: float32 data, or int64 token ids. */
export type Feed =
  | { readonly dtype: 'float32'; readonly data: Float32Array; readonly shape: readonly number[] }
  | { readonly dtype: 'int64'; readonly data: BigInt64Array; readonly shape: readonly number[] };

/** A declared graph input or output: symbolic axes are strings. */
export interface PortInfo {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly (number | string)[];
}

export interface GraphOptions {
  /** Threads for one operator (onnxruntime's intra-op pool); default: all cores. */
  readonly threads?: number;
}

export interface OnnxGraph {
  readonly path: string;
  readonly inputs: readonly PortInfo[];
  readonly outputs: readonly PortInfo[];
  /** Runs the graph, returning only the outputs named in `fetches`, as float32 tensors. */
  run(feeds: Readonly<Record<string, Feed>>, fetches: readonly string[]): Promise<Record<string, Tensor>>;
  release(): Promise<void>;
}

export function floatFeed(t: Tensor): Feed {
  return { dtype: 'float32', data: t.data, shape: t.shape };
}

function portsOf(meta: readonly ort.InferenceSession.ValueMetadata[]): PortInfo[] {
  return meta.map((m) =>
    m.isTensor ? { name: m.name, dtype: String(m.type), shape: [...m.shape] } : { name: m.name, dtype: 'non-tensor', shape: [] },
  );
}

function describeFeeds(feeds: Readonly<Record<string, Feed>>): string {
  return Object.entries(feeds)
    .map(([name, f]) => `  ${name}: ${f.dtype} [${f.shape.join(', ')}]`)
    .join('\n');
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
    if (feed.dtype !== port.dtype) problems.push(`input '${port.name}' must be ${port.dtype}, got ${feed.dtype}`);
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

function toOrt(feed: Feed): ort.Tensor {
  return new ort.Tensor(feed.dtype, feed.data, [...feed.shape]);
}

/** Opens an ONNX graph from a file path (external data next to it is resolved by onnxruntime). */
export async function openGraph(path: string, opts: GraphOptions = {}): Promise<OnnxGraph> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(path, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      ...(opts.threads ? { intraOpNumThreads: opts.threads, interOpNumThreads: 1 } : {}),
    });
  } catch (err) {
    throw new Error(`Cannot load ONNX graph ${path}: ${(err as Error).message}`);
  }
  const inputs = portsOf(session.inputMetadata);
  const outputs = portsOf(session.outputMetadata);
  const outputNames = new Set(outputs.map((p) => p.name));
  return {
    path,
    inputs,
    outputs,
    async run(feeds, fetches) {
      checkFeeds(path, inputs, feeds);
      for (const name of fetches) {
        if (!outputNames.has(name)) throw new Error(`'${name}' is not an output of ${path} (outputs: ${[...outputNames].join(', ')})`);
      }
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const [name, feed] of Object.entries(feeds)) ortFeeds[name] = toOrt(feed);
      let result: ort.InferenceSession.ReturnType;
      try {
        result = await session.run(ortFeeds, [...fetches]);
      } catch (err) {
        throw new Error(`Running ${path} failed: ${(err as Error).message}\nInputs were:\n${describeFeeds(feeds)}`);
      }
      const out: Record<string, Tensor> = {};
      for (const name of fetches) {
        const value = result[name];
        if (!value || value.type !== 'float32') {
          throw new Error(`Output '${name}' of ${path} must be float32, got ${value ? value.type : 'nothing'}`);
        }
        out[name] = { data: value.data as Float32Array, shape: value.dims.map(Number) };
      }
      return out;
    },
    async release() {
      await session.release();
    },
  };
}
