export {
  FLUX_RESOLUTION_SHIFT,
  inversionSchedule,
  resolutionShift,
  shiftTime,
  timesteps,
} from './schedule.js';
export type { ResolutionShiftParams } from './schedule.js';
export { hostAlgebra, SOLVERS, isSolverName, modelCallsFor, solve, solveOn } from './solvers.js';
export type {
  Algebra,
  SolveOnOptions,
  VelocityOn,
  SolveOptions,
  SolveResult,
  SolverName,
  StageInfo,
  StepEvent,
  VelocityFn,
} from './solvers.js';
