import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SOLVERS, solve, type SolverName, type VelocityFn } from '../../src/solvers/solvers.js';
import { inversionSchedule, timesteps } from '../../src/solvers/schedule.js';

/**
 * Step counts per schedule. A shifted schedule stretches the steps near t = 0 by the
 * shift factor, so it reaches the asymptotic regime one doubling later.
 */
const STEP_COUNTS: Record<number, readonly number[]> = {
  1: [8, 16, 32, 64],
  3: [16, 32, 64, 128],
};

/** Least-squares slope of log2(error) against log2(steps), negated: the observed order. */
export function fitOrder(steps: readonly number[], errors: readonly number[]): number {
  const xs = steps.map(Math.log2);
  const ys = errors.map(Math.log2);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  xs.forEach((x, k) => {
    num += (x - mx) * (ys[k]! - my);
    den += (x - mx) ** 2;
  });
  return -num / den;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let j = 0; j < a.length; j++) m = Math.max(m, Math.abs(a[j]! - b[j]!));
  return m;
}

export interface Problem {
  name: string;
  velocity: VelocityFn;
  /** State at t = 1. */
  x1: Float32Array;
  /** Exact state at time t given the state at t = 1. */
  exact: (t: number) => Float64Array;
}

/**
 * Linear, time-varying: dx/dt = λ(t)·x with λ(t) = 2·cos(t) + 0.5.
 * Exact solution: x(t) = x(1)·exp(2·(sin t − sin 1) + 0.5·(t − 1)).
 */
const linear: Problem = {
  name: 'dx/dt = (2cos(t) + 0.5)·x',
  velocity: (x, t) => {
    const out = new Float32Array(x.length);
    const lambda = 2 * Math.cos(t) + 0.5;
    for (let j = 0; j < x.length; j++) out[j] = lambda * x[j]!;
    return out;
  },
  x1: Float32Array.from([1, -0.5, 2]),
  exact(t) {
    const g = Math.exp(2 * (Math.sin(t) - Math.sin(1)) + 0.5 * (t - 1));
    return Float64Array.from(this.x1, (v) => v * g);
  },
};

/**
 * Nonlinear in x and t: dx/dt = 0.5·x²·cos(2t).
 * Exact solution: 1/x(t) = 1/x(1) − (sin 2t − sin 2)/4. For the starting values used,
 * 1/x stays at least 0.77 away from 0 on [0, 1], so there is no blow-up.
 */
const riccati: Problem = {
  name: 'dx/dt = 0.5·x²·cos(2t)',
  velocity: (x, t) => {
    const out = new Float32Array(x.length);
    const c = 0.5 * Math.cos(2 * t);
    for (let j = 0; j < x.length; j++) out[j] = x[j]! * x[j]! * c;
    return out;
  },
  x1: Float32Array.from([1, -1, 0.6]),
  exact(t) {
    const d = (Math.sin(2 * t) - Math.sin(2)) / 4;
    return Float64Array.from(this.x1, (v) => 1 / (1 / v - d));
  },
};

const EXPECTED_ORDER: Record<SolverName, [number, number]> = {
  euler: [0.85, 1.2],
  midpoint: [1.8, 2.3],
  fireflow: [1.8, 2.3],
};

/** Integrates `problem` from t = 1 to t = 0 at each step count and fits the order. */
export async function measureOrder(solver: SolverName, problem: Problem, shift = 1) {
  const counts = STEP_COUNTS[shift] ?? STEP_COUNTS[1]!;
  const target = problem.exact(0);
  const errors: number[] = [];
  for (const n of counts) {
    const { x } = await solve(solver, problem.velocity, problem.x1, timesteps(n, shift));
    errors.push(maxAbsDiff(x, target));
  }
  return { order: fitOrder(counts, errors), errors, counts };
}

for (const problem of [linear, riccati]) {
  for (const shift of [1, 3]) {
    test(`convergence order on ${problem.name}, shift ${shift}, t = 1 → 0`, async () => {
      for (const solver of SOLVERS) {
        const { order, errors, counts } = await measureOrder(solver, problem, shift);
        console.log(
          'convergence order',
          solver,
          order.toFixed(3),
          `(${problem.name}, shift ${shift}; errors at ${counts.join('/')} steps: ${errors.map((e) => e.toExponential(2)).join(', ')})`,
        );
        const [lo, hi] = EXPECTED_ORDER[solver];
        assert.ok(order >= lo && order <= hi, `${solver}: order ${order} outside [${lo}, ${hi}]`);
        for (let k = 1; k < errors.length; k++) assert.ok(errors[k]! < errors[k - 1]!, `${solver} errors must fall`);
      }
    });
  }
}

/**
 * A nonlinear, coupled field on an 8-dimensional state, mixing sin and tanh of x and t,
 * roughly in the range of a model's velocity. Its exact flow is unknown; inverting and
 * then sampling should return to the start as steps grow.
 */
const coupled: VelocityFn = (x, t) => {
  const n = x.length;
  const out = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    const next = x[(j + 1) % n]!;
    const prev = x[(j + n - 1) % n]!;
    out[j] = Math.sin(next + 2 * t) - 0.6 * Math.tanh(x[j]!) * Math.cos(3 * t) + 0.3 * prev * t;
  }
  return out;
};

async function roundTripError(solver: SolverName, steps: number, shift: number, x0: Float32Array) {
  const ts = timesteps(steps, shift);
  const noise = await solve(solver, coupled, x0, inversionSchedule(ts));
  const back = await solve(solver, coupled, noise.x, ts);
  return maxAbsDiff(back.x, x0);
}

test('invert-then-sample round trip: error falls with steps, second order beats euler', async () => {
  const x0 = Float32Array.from([0.3, -1.1, 0.7, 1.5, -0.2, 0.05, -0.9, 1.0]);
  for (const shift of [1, 3]) {
    const err: Record<string, Record<number, number>> = {};
    for (const solver of SOLVERS) {
      err[solver] = {};
      for (const steps of [10, 20, 40]) err[solver]![steps] = await roundTripError(solver, steps, shift, x0);
      const e = err[solver]!;
      console.log(
        'round trip',
        solver,
        `shift ${shift}`,
        [10, 20, 40].map((s) => `${s}: ${e[s]!.toExponential(2)}`).join(', '),
      );
      assert.ok(e[40]! < e[10]!, `${solver}: ${e[40]} !< ${e[10]}`);
      assert.ok(e[40]! < e[20]! && e[20]! < e[10]!, `${solver}: errors must fall`);
    }
    assert.ok(err.midpoint![20]! < err.euler![20]!);
    assert.ok(err.fireflow![20]! < err.euler![20]!);
  }
});
