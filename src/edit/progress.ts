/** How the edit layer reports progress and honours cancellation; it never prints. */
export type Phase = 'encode' | 'invert' | 'sample' | 'decode';

export interface Progress {
  readonly phase: Phase;
  /** steps done in this phase */
  readonly step: number;
  readonly steps: number;
}

export interface RunOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: Progress) => void;
}
