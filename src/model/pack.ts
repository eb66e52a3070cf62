/**
 * Model packs on disk: reading and validating a pack folder, and loading its graphs.
 */
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { checkManifest, textEncoders, textRules, type Manifest } from './manifest.js';
import { graphKey, graphLabel, graphSpecs, port, type GraphSpec } from './ports.js';
import { deviceOps } from './device-ops.js';
import { openGraph, type GraphOptions, type OnnxGraph, type PortInfo, type SessionTuning } from './ort.js';
import { assertPromptTokens, createTextEncoder, type TextEncoder } from './text.js';
import { sessionThreads } from './threads.js';
import { Transformer } from './transformer.js';
import { createVae, type Vae } from './vae.js';

export const MANIFEST_FILE = 'manifest.json';

/** A pack that failed validation: every problem is listed. */
export class PackError extends Error {
  constructor(
    readonly dir: string,
    readonly problems: readonly string[],
  ) {
    super(`Model pack ${dir} is not valid:\n  - ${problems.join('\n  - ')}\nRun 'flowedit models validate ${dir}' after fixing it; docs/model-pack.md describes the format.`);
    this.name = 'PackError';
  }
}

export interface PackInfo {
  readonly dir: string;
  readonly manifest: Manifest;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** Reads and checks a pack's manifest (no ONNX is loaded). Throws PackError listing problems. */
export async function readPack(dir: string): Promise<PackInfo> {
  const root = resolve(dir);
  const manifestPath = join(root, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(manifestPath, 'utf8');
  } catch {
    const isDir = await stat(root).then((s) => s.isDirectory(), () => false);
    throw new PackError(dir, [isDir ? `no ${MANIFEST_FILE} in the folder` : 'folder not found']);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new PackError(dir, [`${MANIFEST_FILE} is not valid JSON: ${(err as Error).message}`]);
  }
  const checked = checkManifest(raw);
  if (!checked.manifest) throw new PackError(dir, checked.problems);
  return { dir: root, manifest: checked.manifest };
}

function compareGraph(spec: GraphSpec, inputs: readonly PortInfo[], outputs: readonly PortInfo[]): string[] {
  const problems: string[] = [];
  const side = (kind: 'input' | 'output', want: GraphSpec['inputs'], have: readonly PortInfo[]) => {
    const byName = new Map(have.map((p) => [p.name, p]));
    for (const w of want) {
      const h = byName.get(w.name);
      const expect = `${w.dtype} [${w.shape.join(', ')}]`;
      if (!h) {
        problems.push(`${spec.file}: missing ${kind} '${w.name}' (${expect})`);
        continue;
      }
      if (h.dtype !== w.dtype) {
        const hint = spec.role === 'transformer' && h.dtype === 'float16' && !problems.some((p) => p.includes('transformer.dtype')) ? ' (a float16 transformer says "dtype": "float16" in the manifest\'s transformer section, format 2)' : '';
        problems.push(`${spec.file}: ${kind} '${w.name}' is ${h.dtype}, expected ${w.dtype}${hint}`);
      }
      if (h.shape.length !== w.shape.length) {
        problems.push(`${spec.file}: ${kind} '${w.name}' has rank ${h.shape.length} [${h.shape.join(', ')}], expected rank ${w.shape.length} [${w.shape.join(', ')}]`);
      } else {
        w.shape.forEach((dim, axis) => {
          const got = h.shape[axis];
          if (typeof dim === 'number' && typeof got === 'number' && got >= 0 && got !== dim) {
            problems.push(`${spec.file}: ${kind} '${w.name}' axis ${axis} is ${got}, expected ${dim}`);
          }
        });
      }
    }
    const wanted = new Set(want.map((w) => w.name));
    for (const h of have) {
      if (!wanted.has(h.name) && kind === 'input') problems.push(`${spec.file}: unexpected input '${h.name}' (flowedit will not feed it)`);
    }
  };
  side('input', spec.inputs, inputs);
  side('output', spec.outputs, outputs);
  return problems;
}

/** A "file not found" line for each text encoder's tokenizer that is not in the pack. */
async function missingTokenizers(info: PackInfo): Promise<string[]> {
  const problems: string[] = [];
  const several = info.manifest.text?.encoders !== undefined;
  for (const e of textEncoders(info.manifest)) {
    if (!(await exists(join(info.dir, e.tokenizer)))) problems.push(`${e.tokenizer}: file not found (the tokenizer${several ? ` of text encoder ${e.name}` : ''})`);
  }
  return problems;
}

/**
 * Checks a pack completely: manifest schema, files present, and each ONNX graph's input and
 * output names, element types, ranks and fixed sizes. Returns every problem (empty = valid).
 */
export async function validatePack(dir: string): Promise<string[]> {
  let info: PackInfo;
  try {
    info = await readPack(dir);
  } catch (err) {
    if (err instanceof PackError) return [...err.problems];
    throw err;
  }
  const problems: string[] = [];
  const encoders = textEncoders(info.manifest);
  const missing = await missingTokenizers(info);
  problems.push(...missing);
  for (const e of missing.length > 0 ? [] : encoders) {
    try {
      JSON.parse(await readFile(join(info.dir, e.tokenizer), 'utf8'));
    } catch (err) {
      problems.push(`${e.tokenizer}: not valid JSON (${(err as Error).message})`);
    }
  }
  if (encoders.length > 0 && problems.length === 0) {
    // the tokenizers load, and the prompts the pack brings itself pass their own rules
    const own = [{ text: '', what: 'empty prompt' }, { text: textRules(info.manifest).negativePrompt, what: 'text.negativePrompt' }];
    for (const e of encoders) await assertPromptTokens(info.manifest, info.dir, own, e.name).catch((err: Error) => problems.push(`${e.tokenizer}: ${err.message}`));
  }
  for (const spec of graphSpecs(info.manifest)) {
    const path = join(info.dir, spec.file);
    if (!(await exists(path))) {
      problems.push(`${spec.file}: file not found (${graphLabel(info.manifest, spec)})`);
      continue;
    }
    let graph: OnnxGraph;
    try {
      graph = await openGraph(path, { threads: 1 });
    } catch (err) {
      problems.push(`${spec.file}: ${(err as Error).message}`);
      continue;
    }
    problems.push(...compareGraph(spec, graph.inputs, graph.outputs));
    await graph.release();
  }
  return problems;
}

/** A pack with its graphs open, ready to run. */
export interface LoadedPack extends PackInfo {
  readonly transformer: Transformer;
  /** null for an unconditional pack */
  readonly text: TextEncoder | null;
  readonly vae: Vae;
  release(): Promise<void>;
}

export interface LoadOptions {
  /** Threads for one operator; default: the physical cores on Linux, elsewhere onnxruntime's own count (sessionThreads). */
  readonly threads?: number;
  /** Where the graphs run (default cpu). */
  readonly device?: GraphOptions['device'];
  /**
   * Keep the transformer's keys/values and constant inputs (prompt embeddings, biases) in the
   * device's memory between calls where the device allows it (default true); false sends them
   * through the host every call.
   */
  readonly keepOnDevice?: boolean;
}

/**
 * The session settings a pack's graph opens with (SESSION_DEFAULTS where absent). The VAE and the
 * text encoders run once or a few times a job, at a shape of their own each time: onnxruntime's
 * memory pattern, which plans a shape's buffers on its first run and allocates them on its second,
 * would make two of their runs slow instead of one (a still edit's VAE: 38 + 56 ms instead of
 * 13 + 30 ms in a worker's second job, docs/lab/cpu-speed.md). The transformer, called with the
 * same few shapes every step, keeps it.
 */
export function graphTuning(spec: Pick<GraphSpec, 'role'>): SessionTuning | undefined {
  return spec.role === 'transformer' ? undefined : { memPattern: false };
}

/** Transformer files up to this size get a second, single-thread session for small calls (SMALL_CALL_FLOP). */
export const SINGLE_THREAD_TWIN_BYTES = 64 * 1024 * 1024;

/**
 * The transformer opened again in a session of one thread, for its small calls: on the CPU, where
 * the sessions run on several threads and the graph is small enough to hold twice. Calls that
 * small only come from small packs; larger ones get none.
 */
async function singleThreadTwin(graph: OnnxGraph, opts: LoadOptions): Promise<OnnxGraph | undefined> {
  if (graph.device !== 'cpu' || (opts.threads || sessionThreads() || 0) < 2) return undefined;
  if ((await stat(graph.path)).size > SINGLE_THREAD_TWIN_BYTES) return undefined;
  return openGraph(graph.path, { threads: 1, device: 'cpu' });
}

/**
 * Loads a pack: reads the manifest, opens every graph and checks its ports against the
 * manifest before anything runs. Throws PackError listing every problem.
 */
export async function loadPack(dir: string, opts: LoadOptions = {}): Promise<LoadedPack> {
  const info = await readPack(dir);
  const m = info.manifest;
  const problems: string[] = [];
  problems.push(...(await missingTokenizers(info)));
  const graphs = new Map<string, OnnxGraph>();
  for (const spec of graphSpecs(m)) {
    const path = join(info.dir, spec.file);
    if (!(await exists(path))) {
      problems.push(`${spec.file}: file not found (${graphLabel(m, spec)})`);
      continue;
    }
    const keep = spec.role === 'transformer' && opts.keepOnDevice !== false ? [port.velocity, ...m.transformer.contextLayers.flatMap((i) => [port.k(i), port.v(i)])] : [];
    let graph: OnnxGraph;
    try {
      const tuning = graphTuning(spec);
      graph = await openGraph(path, { ...(opts.threads ? { threads: opts.threads } : {}), ...(opts.device ? { device: opts.device } : {}), ...(tuning ? { tuning } : {}), keepOnDevice: keep });
    } catch (err) {
      await Promise.all([...graphs.values()].map((g) => g.release()));
      throw err;
    }
    graphs.set(graphKey(spec), graph);
    problems.push(...compareGraph(spec, graph.inputs, graph.outputs));
  }
  if (problems.length > 0) {
    await Promise.all([...graphs.values()].map((g) => g.release()));
    throw new PackError(dir, problems);
  }
  const trGraph = graphs.get('transformer')!;
  const ops = trGraph.deviceOutputs.size > 0 ? deviceOps(trGraph.device) : undefined;
  let single: OnnxGraph | undefined;
  try {
    single = await singleThreadTwin(trGraph, opts);
  } catch (err) {
    await Promise.all([...graphs.values()].map((g) => g.release()));
    throw err;
  }
  if (single) graphs.set('transformer, one thread', single);
  const transformer = new Transformer(m, trGraph, ops, single);
  const text = m.text ? await createTextEncoder(m, info.dir, (encoder) => graphs.get(graphKey({ role: 'text encoder', encoder }))!) : null;
  const vae = createVae(m, graphs.get('vae encoder'), graphs.get('vae decoder'));
  return {
    ...info,
    transformer,
    text,
    vae,
    async release() {
      await ops?.release(); // the constants it holds and its graphs, before the sessions they came from
      await Promise.all([...graphs.values()].map((g) => g.release()));
    },
  };
}
