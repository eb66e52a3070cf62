export {
  FLUX_RESOLUTION_SHIFT,
  inversionSchedule,
  resolutionShift,
  shiftTime,
  timesteps,
} from './schedule.js';
export type { ResolutionShiftParams } from './schedule.js';
export { SOLVERS, isSolverName, modelCallsFor, solve } from './solvers.js';
export type {
  SolveOptions,
  SolveResult,
  SolverName,
  StageInfo,
  StepEvent,
  VelocityFn,
} from './solvers.js';
