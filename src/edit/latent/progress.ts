/** How the edit layer reports progress and warnings and honours cancellation; it never prints. */
export type Phase = 'encode' | 'invert' | 'mask' | 'sample' | 'decode';

export interface Progress {
  readonly phase: Phase;
  /** steps done in this phase */
  readonly step: number;
  readonly steps: number;
  /** for clips edited in windows: which window (0-based) of how many */
  readonly window?: { readonly index: number; readonly count: number };
}

export interface RunOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: Progress) => void;
  /** things worth telling the user that do not stop the run (e.g. a mask scaled to fit) */
  readonly onWarning?: (message: string) => void;
}

/** Run options whose progress events carry the window they belong to. */
export function inWindow(run: RunOptions, index: number, count: number): RunOptions {
  if (count <= 1 || !run.onProgress) return run;
  const onProgress = run.onProgress;
  return { ...run, onProgress: (p) => onProgress({ ...p, window: { index, count } }) };
}
