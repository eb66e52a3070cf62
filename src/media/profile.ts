/**
 * Where a run's wall time goes (--profile), collected in the thread that does the work. Every
 * moment between startProfile and stopProfile is given to exactly one part: the model's load, a
 * graph's calls (per graph), the copies into and out of onnxruntime around a call, image/video I/O,
 * JavaScript work between two model calls, or the rest (before the first call, after the last).
 * A part entered inside another (a graph call while a clip is being encoded) takes the time from
 * the outer one, so the parts add up to the wall time. The cost is one performance.now() per
 * change of part; with no profile started every hook returns at once.
 *
 * It lives in the lowest layer so that the model (onnxruntime calls) and media (I/O) both record
 * into it.
 */

/** Kinds of image/video I/O. */
export type IoKind = 'decode' | 'encode' | 'ffmpeg';

/** One graph's calls: how many, the milliseconds inside onnxruntime's run, and their FLOPs where known. */
export interface GraphProfile {
  readonly calls: number;
  readonly ms: number;
  readonly meanMs: number;
  /** FLOPs of all calls (2·m·n·k per matmul, attention included); absent when not computed for this graph */
  readonly gflop?: number;
  /** gflop / seconds inside the calls */
  readonly gflopPerSecond?: number;
}

export interface Profile {
  readonly format: 'flowedit.profile';
  readonly version: 1;
  /** from the start of the task (before its model loads) to its end */
  readonly wallMs: number;
  /** waiting for the model pack's graphs to open: what was left of a load begun ahead of the task (preload) or all of it (0 when the worker kept the pack or had loaded it already) */
  readonly loadMs: number;
  /** per graph file (transformer.onnx, vae_decoder.onnx, …) */
  readonly graphs: Readonly<Record<string, GraphProfile>>;
  /** all graph calls together */
  readonly modelMs: number;
  /** feeds made into onnxruntime tensors (in) and outputs read back (out), with the bytes they hold */
  readonly copies: { readonly inMs: number; readonly outMs: number; readonly inBytes: number; readonly outBytes: number };
  /** JavaScript work between one model call and the next (solver arithmetic, guidance, batching, masks) */
  readonly betweenCallsMs: number;
  /** image and video decoding, encoding, other ffmpeg runs (probes) */
  readonly io: Readonly<Record<IoKind, number>>;
  /** what no other part holds: planning, reading files before the first call, work after the last */
  readonly restMs: number;
}

type Part = 'rest' | 'between' | 'load' | 'copyIn' | 'copyOut' | `io:${IoKind}` | `graph:${string}`;

class Recorder {
  readonly t0 = performance.now();
  last = this.t0;
  /** parts entered and not yet left; the bottom is 'rest' before the first call, 'between' after */
  readonly stack: Part[] = ['rest'];
  readonly ms = new Map<Part, number>();
  /** time of the bottom 'between' part not yet known to lie between two calls */
  pending = 0;
  readonly calls = new Map<string, number>();
  readonly flops = new Map<string, number>();
  inBytes = 0;
  outBytes = 0;

  tick(): void {
    const t = performance.now();
    const dt = t - this.last;
    this.last = t;
    const top = this.stack[this.stack.length - 1]!;
    if (top === 'between') this.pending += dt;
    else this.ms.set(top, (this.ms.get(top) ?? 0) + dt);
  }

  add(part: Part, dt: number): void {
    this.ms.set(part, (this.ms.get(part) ?? 0) + dt);
  }
}

let active: Recorder | null = null;

/** Starts collecting in this thread (a profile already started is dropped). */
export function startProfile(): void {
  active = new Recorder();
}

/** Whether a profile is being collected in this thread. */
export function profiling(): boolean {
  return active !== null;
}

/** Enters a part; leave it with profileLeave. */
function enter(part: Part): void {
  const r = active;
  if (!r) return;
  r.tick();
  r.stack.push(part);
}

/** Leaves the part entered last. */
export function profileLeave(): void {
  const r = active;
  if (!r || r.stack.length <= 1) return;
  r.tick();
  r.stack.pop();
}

/** Runs `fn` as the model's load. */
export async function timedLoad<T>(fn: () => Promise<T>): Promise<T> {
  enter('load');
  try {
    return await fn();
  } finally {
    profileLeave();
  }
}

/** Runs `fn` as image/video I/O of one kind. */
export async function timedIo<T>(kind: IoKind, fn: () => Promise<T>): Promise<T> {
  if (!active) return fn();
  enter(`io:${kind}`);
  try {
    return await fn();
  } finally {
    profileLeave();
  }
}

/**
 * The stages of one graph call, in order: callStart (feeds are made: copy in), callRun (inside
 * onnxruntime), callRead (outputs are read: copy out), callEnd. The time since the previous call
 * ended is counted as work between calls.
 */
export function callStart(): void {
  const r = active;
  if (!r) return;
  r.tick();
  r.add('between', r.pending);
  r.pending = 0;
  r.stack.push('copyIn');
}

export function callRun(graph: string, inBytes: number): void {
  const r = active;
  if (!r) return;
  r.tick();
  r.stack[r.stack.length - 1] = `graph:${graph}`;
  r.calls.set(graph, (r.calls.get(graph) ?? 0) + 1);
  r.inBytes += inBytes;
}

export function callRead(): void {
  const r = active;
  if (!r) return;
  r.tick();
  r.stack[r.stack.length - 1] = 'copyOut';
}

export function callEnd(outBytes: number): void {
  const r = active;
  if (!r) return;
  r.tick();
  r.stack.pop();
  r.stack[0] = 'between';
  r.outBytes += outBytes;
}

/** Adds the FLOPs of one call of `graph` (counted by whoever knows its shapes). */
export function recordFlops(graph: string, flops: number): void {
  const r = active;
  if (r) r.flops.set(graph, (r.flops.get(graph) ?? 0) + flops);
}

/** Ends the profile of this thread and returns it (null when none was started). */
export function stopProfile(): Profile | null {
  const r = active;
  if (!r) return null;
  r.tick();
  active = null;
  r.add('rest', r.pending);
  const get = (p: Part) => r.ms.get(p) ?? 0;
  const graphs: Record<string, GraphProfile> = {};
  for (const [name, calls] of r.calls) {
    const ms = get(`graph:${name}`);
    const f = r.flops.get(name);
    graphs[name] = { calls, ms, meanMs: ms / calls, ...(f !== undefined ? { gflop: f / 1e9, gflopPerSecond: ms > 0 ? f / 1e6 / ms : 0 } : {}) };
  }
  return {
    format: 'flowedit.profile',
    version: 1,
    wallMs: r.last - r.t0,
    loadMs: get('load'),
    graphs,
    modelMs: Object.values(graphs).reduce((a, g) => a + g.ms, 0),
    copies: { inMs: get('copyIn'), outMs: get('copyOut'), inBytes: r.inBytes, outBytes: r.outBytes },
    betweenCallsMs: get('between'),
    io: { decode: get('io:decode'), encode: get('io:encode'), ffmpeg: get('io:ffmpeg') },
    restMs: get('rest'),
  };
}

/** Profiles of several tasks (a batch's items) as one: times, calls, bytes and FLOPs added. */
export function mergeProfiles(profiles: readonly Profile[]): Profile | null {
  if (profiles.length === 0) return null;
  if (profiles.length === 1) return profiles[0]!;
  const sum = (f: (p: Profile) => number) => profiles.reduce((a, p) => a + f(p), 0);
  const graphs: Record<string, GraphProfile> = {};
  for (const name of new Set(profiles.flatMap((p) => Object.keys(p.graphs)))) {
    const of = profiles.map((p) => p.graphs[name]).filter((g): g is GraphProfile => g !== undefined);
    const calls = of.reduce((a, g) => a + g.calls, 0);
    const ms = of.reduce((a, g) => a + g.ms, 0);
    const known = of.every((g) => g.gflop !== undefined);
    const gflop = of.reduce((a, g) => a + (g.gflop ?? 0), 0);
    graphs[name] = { calls, ms, meanMs: ms / calls, ...(known ? { gflop, gflopPerSecond: ms > 0 ? (gflop * 1000) / ms : 0 } : {}) };
  }
  return {
    format: 'flowedit.profile',
    version: 1,
    wallMs: sum((p) => p.wallMs),
    loadMs: sum((p) => p.loadMs),
    graphs,
    modelMs: sum((p) => p.modelMs),
    copies: { inMs: sum((p) => p.copies.inMs), outMs: sum((p) => p.copies.outMs), inBytes: sum((p) => p.copies.inBytes), outBytes: sum((p) => p.copies.outBytes) },
    betweenCallsMs: sum((p) => p.betweenCallsMs),
    io: { decode: sum((p) => p.io.decode), encode: sum((p) => p.io.encode), ffmpeg: sum((p) => p.io.ffmpeg) },
    restMs: sum((p) => p.restMs),
  };
}

/** The items of `source`, the time spent producing each counted as I/O of `kind`; stopping early stops `source`. */
export async function* timedEach<T>(kind: IoKind, source: AsyncGenerator<T, void, undefined>): AsyncGenerator<T, void, undefined> {
  try {
    for (;;) {
      const r = await timedIo(kind, () => source.next());
      if (r.done) return;
      yield r.value;
    }
  } finally {
    await source.return(undefined);
  }
}
