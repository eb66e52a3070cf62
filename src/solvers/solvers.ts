/**
 * ODE solvers for rectified-flow models.
 *
 * The model gives the velocity v(x, t) = dx/dt = ε − x_0 of the straight path
 * x_t = (1 − t) x_0 + t ε. Sampling integrates a schedule from t = 1 down to t = 0;
 * inversion runs the same solver over the reversed schedule (0 up to 1), so each solver
 * below works in either direction and only ever looks at dt = t_next − t.
 *
 * Each sampler is a short loop with its state in locals; the model is reached only
 * through the velocity callback and progress is reported only through `onStep`.
 */

export type SolverName = 'euler' | 'midpoint' | 'fireflow';

export const SOLVERS: readonly SolverName[] = Object.freeze(['euler', 'midpoint', 'fireflow'] as const);

/** Where a velocity call sits: step index i (0-based) and stage (0 = start of step, 1 = midpoint). */
export interface StageInfo {
  step: number;
  stage: number;
}

/**
 * The model. `x` is a scratch buffer owned by the solver: the callback may read it (and
 * even overwrite it) but must not keep it, since the solver rewrites it before the next call.
 * The returned array is read before the next call and never kept, so the callback may
 * return the same reused output buffer every time.
 */
export type VelocityFn = (
  x: Float32Array,
  t: number,
  at: StageInfo,
) => Promise<Float32Array> | Float32Array;

/**
 * Progress after step `step` (0-based) of `steps`, which moved the state from `t` to `tNext`.
 * `x` is the solver's live state: read it during the callback, copy it to keep it.
 * `calls` counts velocity calls made so far.
 */
export interface StepEvent {
  step: number;
  steps: number;
  t: number;
  tNext: number;
  x: Float32Array;
  calls: number;
}

export interface SolveOptions {
  /** Checked before every velocity call; an aborted signal rejects with its reason. */
  signal?: AbortSignal;
  onStep?: (e: StepEvent) => void;
  /** Keep a copy of the state at every time in the schedule. */
  keepTrajectory?: boolean;
  /**
   * Constrains the state in place after step `step` (now at `tNext`), before it is recorded or
   * reported: masked editing pins the known region to a stored trajectory this way.
   */
  project?: (x: Float32Array, step: number, tNext: number) => void;
}

export interface SolveResult {
  x: Float32Array;
  /** Copies of the state at every t in ts (trajectory[0] = input), or null unless requested. */
  trajectory: Float32Array[] | null;
  /** Number of velocity calls made. */
  calls: number;
}

export function isSolverName(s: string): s is SolverName {
  return (SOLVERS as readonly string[]).includes(s);
}

function checkSolver(solver: string): SolverName {
  if (!isSolverName(solver)) {
    throw new Error(`Unknown solver "${solver}"; expected one of ${SOLVERS.join(', ')}`);
  }
  return solver;
}

/** Velocity calls a solver makes over `steps` steps: euler N, midpoint 2N, fireflow N + 1. */
export function modelCallsFor(solver: SolverName, steps: number): number {
  checkSolver(solver);
  if (!Number.isInteger(steps) || steps < 1) {
    throw new Error(`Expected a positive integer for steps but received ${steps}`);
  }
  switch (solver) {
    case 'euler':
      return steps;
    case 'midpoint':
      return 2 * steps;
    case 'fireflow':
      return steps + 1;
  }
}

function checkSchedule(ts: readonly number[]): void {
  if (ts.length < 2) {
    throw new Error(`Expected at least 2 timesteps but received ${ts.length}`);
  }
  for (let i = 0; i < ts.length; i++) {
    if (!Number.isFinite(ts[i])) {
      throw new Error(`Expected finite timesteps but received ts[${i}] = ${ts[i]}`);
    }
  }
  const direction = Math.sign(ts[1]! - ts[0]!);
  for (let i = 1; i < ts.length; i++) {
    if (direction === 0 || Math.sign(ts[i]! - ts[i - 1]!) !== direction) {
      throw new Error(
        `Expected strictly monotonic timesteps but received ts[${i - 1}] = ${ts[i - 1]}, ts[${i}] = ${ts[i]}`,
      );
    }
  }
}

/**
 * The vector arithmetic a sampler needs, over values of any kind: host arrays, or tensors kept
 * in a device's memory so the state never visits the host between model calls.
 */
export interface Algebra<V> {
  /** x + h·v as a new value; x and v are left as they are */
  addScaled(x: V, h: number, v: V): V | Promise<V>;
  /** the sampler is done with v (a value it made, or one the velocity returned to it) */
  free(v: V): void;
}

/**
 * The model over values of type V: it returns a new value the sampler owns (and frees), and
 * may not keep or change x.
 */
export type VelocityOn<V> = (x: V, t: number, at: StageInfo) => Promise<V>;

export interface SolveOnOptions<V> {
  /** Checked before every velocity call; an aborted signal rejects with its reason. */
  signal?: AbortSignal;
  /**
   * After step `step` (now at `tNext`): may replace the state (a projection returns the new
   * value, and the old one is freed) or report it; the returned value is the state from then on.
   */
  afterStep?: (x: V, step: number, tNext: number, calls: number) => V | Promise<V>;
}

/** What the samplers share: the model, the arithmetic, and bookkeeping. */
interface Run<V> {
  readonly velocity: VelocityOn<V>;
  readonly alg: Algebra<V>;
  readonly signal: AbortSignal | undefined;
  calls: number;
  /** the state after step i, possibly replaced */
  readonly after: (x: V, i: number) => Promise<V>;
}

/** Calls the model at x, after an abort check. */
async function evaluate<V>(run: Run<V>, x: V, t: number, step: number, stage: number): Promise<V> {
  run.signal?.throwIfAborted();
  run.calls++;
  return run.velocity(x, t, { step, stage });
}

/** x ← x + h·v, freeing the x it replaces unless it is the caller's input. */
async function advance<V>(run: Run<V>, x: V, h: number, v: V, input: V): Promise<V> {
  const next = await run.alg.addScaled(x, h, v);
  if (x !== input) run.alg.free(x);
  return next;
}

/** Euler: x ← x + dt·v(x, t). First order, one call per step. */
async function sampleEuler<V>(run: Run<V>, input: V, ts: readonly number[]): Promise<V> {
  let x = input;
  for (let i = 0; i < ts.length - 1; i++) {
    const t = ts[i]!;
    const dt = ts[i + 1]! - t;
    const v = await evaluate(run, x, t, i, 0);
    x = await advance(run, x, dt, v, input);
    run.alg.free(v);
    x = await run.after(x, i);
  }
  return x;
}

/**
 * Explicit midpoint: vMid = v(x + dt/2·v(x, t), t + dt/2), x ← x + dt·vMid.
 * This is the second-order step of RF-Solver (Wang et al., "Taming Rectified Flow for
 * Inversion and Editing", arXiv:2411.04746): its Taylor update, with the time derivative
 * of v taken by a finite difference over half a step, reduces to exactly this update.
 * Two calls per step.
 */
async function sampleMidpoint<V>(run: Run<V>, input: V, ts: readonly number[]): Promise<V> {
  let x = input;
  for (let i = 0; i < ts.length - 1; i++) {
    const t = ts[i]!;
    const dt = ts[i + 1]! - t;
    const v = await evaluate(run, x, t, i, 0);
    const probe = await run.alg.addScaled(x, dt / 2, v);
    run.alg.free(v);
    const vMid = await evaluate(run, probe, t + dt / 2, i, 1);
    run.alg.free(probe);
    x = await advance(run, x, dt, vMid, input);
    run.alg.free(vMid);
    x = await run.after(x, i);
  }
  return x;
}

/**
 * FireFlow (Deng et al., "FireFlow: Fast Inversion of Rectified Flow for Image Semantic
 * Editing", arXiv:2412.07517): the midpoint step, but the midpoint velocity of step i is
 * reused as the start velocity of step i + 1. Only step 0 makes a stage-0 call; every step
 * makes one stage-1 call, so N steps cost N + 1 calls and stay second order.
 */
async function sampleFireflow<V>(run: Run<V>, input: V, ts: readonly number[]): Promise<V> {
  let x = input;
  let vStart: V | null = null;
  for (let i = 0; i < ts.length - 1; i++) {
    const t = ts[i]!;
    const dt = ts[i + 1]! - t;
    vStart ??= await evaluate(run, x, t, i, 0);
    const probe = await run.alg.addScaled(x, dt / 2, vStart);
    const vMid = await evaluate(run, probe, t + dt / 2, i, 1);
    run.alg.free(probe);
    x = await advance(run, x, dt, vMid, input);
    run.alg.free(vStart);
    vStart = vMid;
    x = await run.after(x, i);
  }
  if (vStart !== null) run.alg.free(vStart);
  return x;
}

const SAMPLERS = {
  euler: sampleEuler,
  midpoint: sampleMidpoint,
  fireflow: sampleFireflow,
} as const;

/**
 * Integrates dx/dt = velocity(x, t) over the schedule `ts` (descending to sample, ascending to
 * invert) from `x`, which is left untouched, with `alg`'s arithmetic: the values may live on a
 * device. Returns the final state (the caller's to free) and the number of velocity calls.
 */
export async function solveOn<V>(
  alg: Algebra<V>,
  solver: SolverName,
  velocity: VelocityOn<V>,
  x: V,
  ts: readonly number[],
  opts: SolveOnOptions<V> = {},
): Promise<{ x: V; calls: number }> {
  const sample = SAMPLERS[checkSolver(solver)];
  checkSchedule(ts);
  const { signal, afterStep } = opts;
  const run: Run<V> = {
    velocity,
    alg,
    signal,
    calls: 0,
    after: async (xi, i) => {
      if (!afterStep) return xi;
      const next = await afterStep(xi, i, ts[i + 1]!, run.calls);
      if (next !== xi && xi !== x) alg.free(xi);
      return next;
    },
  };
  const out = await sample(run, x, ts);
  return { x: out, calls: run.calls };
}

/** Host arithmetic over float32 arrays, with a copy that takes its array from the same store. */
export interface HostAlgebra extends Algebra<Float32Array> {
  /** x in an array of this algebra's (free it like the others) */
  copy(x: Float32Array): Float32Array;
}

/**
 * Host arithmetic whose freed arrays are reused for its next results: after the first step a
 * solve allocates nothing. One per run; an array must not be used once freed.
 */
export function hostAlgebra(): HostAlgebra {
  const spare: Float32Array[] = [];
  const take = (n: number): Float32Array => {
    const i = spare.findIndex((a) => a.length === n);
    return i >= 0 ? spare.splice(i, 1)[0]! : new Float32Array(n);
  };
  return {
    addScaled(x, h, v) {
      const out = take(x.length);
      for (let j = 0; j < out.length; j++) out[j] = x[j]! + h * v[j]!;
      return out;
    },
    copy(x) {
      const out = take(x.length);
      out.set(x);
      return out;
    },
    free(v) {
      if (!spare.includes(v)) spare.push(v);
    },
  };
}

/**
 * Integrates dx/dt = velocity(x, t) over the schedule `ts` (descending to sample,
 * ascending to invert), starting from `x`, which is left untouched.
 */
export async function solve(
  solver: SolverName,
  velocity: VelocityFn,
  x: Float32Array,
  ts: readonly number[],
  opts: SolveOptions = {},
): Promise<SolveResult> {
  checkSolver(solver);
  checkSchedule(ts);
  if (!(x instanceof Float32Array)) {
    throw new Error(`Expected a Float32Array for x but received ${Object.prototype.toString.call(x)}`);
  }
  const { signal, onStep, keepTrajectory = false, project } = opts;
  const n = x.length;
  const trajectory = keepTrajectory ? [x.slice()] : null;
  const steps = ts.length - 1;
  // the callback gets a copy it may scribble on, and its output is copied before the next call
  const probe = new Float32Array(n);
  const alg = hostAlgebra();
  const onHost: VelocityOn<Float32Array> = async (xi, t, at) => {
    probe.set(xi);
    const v = await velocity(probe, t, at);
    if (!(v instanceof Float32Array) || v.length !== n) {
      const got = v instanceof Float32Array ? `length ${v.length}` : String(v);
      throw new Error(`Velocity at step ${at.step} stage ${at.stage} (t = ${t}): expected a Float32Array of length ${n} but received ${got}`);
    }
    return alg.copy(v);
  };
  const result = await solveOn(alg, solver, onHost, x, ts, {
    ...(signal ? { signal } : {}),
    afterStep: (xi, i, tNext, calls) => {
      project?.(xi, i, tNext);
      trajectory?.push(xi.slice());
      onStep?.({ step: i, steps, t: ts[i]!, tNext, x: xi, calls });
      return xi;
    },
  });
  return { x: result.x === x ? x.slice() : result.x, trajectory, calls: result.calls };
}
