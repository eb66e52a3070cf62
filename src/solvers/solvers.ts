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

/** State shared by the samplers: the callback, a scratch input buffer, and bookkeeping. */
interface Run {
  readonly velocity: VelocityFn;
  readonly signal: AbortSignal | undefined;
  /** Input handed to the velocity callback; written by the sampler before each call. */
  readonly probe: Float32Array;
  calls: number;
  /** Records the state after step i. */
  readonly report: (i: number, x: Float32Array) => void;
}

/** Calls the model at `run.probe`, after an abort check, and validates the result. */
async function evaluate(run: Run, t: number, step: number, stage: number): Promise<Float32Array> {
  run.signal?.throwIfAborted();
  run.calls++;
  const v = await run.velocity(run.probe, t, { step, stage });
  const n = run.probe.length;
  if (!(v instanceof Float32Array) || v.length !== n) {
    const got = v instanceof Float32Array ? `length ${v.length}` : String(v);
    throw new Error(
      `Velocity at step ${step} stage ${stage} (t = ${t}): expected a Float32Array of length ${n} but received ${got}`,
    );
  }
  return v;
}

/** out ← x + h·v (out may alias x or v). */
function addScaled(out: Float32Array, x: Float32Array, h: number, v: Float32Array): void {
  for (let j = 0; j < out.length; j++) out[j] = x[j]! + h * v[j]!;
}

/** Euler: x ← x + dt·v(x, t). First order, one call per step. */
async function sampleEuler(run: Run, x: Float32Array, ts: readonly number[]): Promise<void> {
  for (let i = 0; i < ts.length - 1; i++) {
    const t = ts[i]!;
    const dt = ts[i + 1]! - t;
    run.probe.set(x);
    const v = await evaluate(run, t, i, 0);
    addScaled(x, x, dt, v);
    run.report(i, x);
  }
}

/**
 * Explicit midpoint: vMid = v(x + dt/2·v(x, t), t + dt/2), x ← x + dt·vMid.
 * This is the second-order step of RF-Solver (Wang et al., "Taming Rectified Flow for
 * Inversion and Editing", arXiv:2411.04746): its Taylor update, with the time derivative
 * of v taken by a finite difference over half a step, reduces to exactly this update.
 * Two calls per step.
 */
async function sampleMidpoint(run: Run, x: Float32Array, ts: readonly number[]): Promise<void> {
  for (let i = 0; i < ts.length - 1; i++) {
    const t = ts[i]!;
    const dt = ts[i + 1]! - t;
    run.probe.set(x);
    const v = await evaluate(run, t, i, 0);
    addScaled(run.probe, x, dt / 2, v);
    const vMid = await evaluate(run, t + dt / 2, i, 1);
    addScaled(x, x, dt, vMid);
    run.report(i, x);
  }
}

/**
 * FireFlow (Deng et al., "FireFlow: Fast Inversion of Rectified Flow for Image Semantic
 * Editing", arXiv:2412.07517): the midpoint step, but the midpoint velocity of step i is
 * reused as the start velocity of step i + 1. Only step 0 makes a stage-0 call; every step
 * makes one stage-1 call, so N steps cost N + 1 calls and stay second order.
 */
async function sampleFireflow(run: Run, x: Float32Array, ts: readonly number[]): Promise<void> {
  const vStart = new Float32Array(x.length);
  for (let i = 0; i < ts.length - 1; i++) {
    const t = ts[i]!;
    const dt = ts[i + 1]! - t;
    if (i === 0) {
      run.probe.set(x);
      vStart.set(await evaluate(run, t, i, 0));
    }
    addScaled(run.probe, x, dt / 2, vStart);
    const vMid = await evaluate(run, t + dt / 2, i, 1);
    addScaled(x, x, dt, vMid);
    vStart.set(vMid);
    run.report(i, x);
  }
}

const SAMPLERS: Record<SolverName, (run: Run, x: Float32Array, ts: readonly number[]) => Promise<void>> = {
  euler: sampleEuler,
  midpoint: sampleMidpoint,
  fireflow: sampleFireflow,
};

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
  const sample = SAMPLERS[checkSolver(solver)];
  checkSchedule(ts);
  if (!(x instanceof Float32Array)) {
    throw new Error(`Expected a Float32Array for x but received ${Object.prototype.toString.call(x)}`);
  }
  const { signal, onStep, keepTrajectory = false, project } = opts;
  const state = x.slice();
  const trajectory = keepTrajectory ? [x.slice()] : null;
  const steps = ts.length - 1;
  const run: Run = {
    velocity,
    signal,
    probe: new Float32Array(x.length),
    calls: 0,
    report: (i, xi) => {
      project?.(xi, i, ts[i + 1]!);
      trajectory?.push(xi.slice());
      onStep?.({ step: i, steps, t: ts[i]!, tNext: ts[i + 1]!, x: xi, calls: run.calls });
    },
  };
  await sample(run, state, ts);
  return { x: state, trajectory, calls: run.calls };
}
