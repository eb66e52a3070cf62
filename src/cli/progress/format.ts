/** How progress reads to a person: durations, percentages, a bar, one phase's position. */
import type { Progress } from '../../edit/latent/progress.js';

/** 4.2s, 42s, 3m05s, 1h02m */
export function duration(seconds: number): string {
  const s = Math.max(0, seconds);
  if (s < 10) return `${s.toFixed(1)}s`;
  // whole seconds first, so that 119.6 s reads 2m00s, not 1m60s
  const whole = Math.round(s);
  if (whole < 60) return `${whole}s`;
  if (whole < 3600) return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`;
  const h = Math.floor(whole / 3600);
  return `${h}h${String(Math.floor((whole % 3600) / 60)).padStart(2, '0')}m`;
}

export function percent(f: number): string {
  return `${Math.floor(Math.min(1, Math.max(0, f)) * 100)}%`;
}

export function bar(f: number, width = 20): string {
  const filled = Math.round(Math.min(1, Math.max(0, f)) * width);
  return '█'.repeat(filled) + '░'.repeat(width - filled);
}

/** "sample 3/8, window 1/2" */
export function phaseText(p: Progress): string {
  return `${p.phase} ${p.step}/${p.steps}${p.window ? `, window ${p.window.index + 1}/${p.window.count}` : ''}`;
}

/** "12s elapsed, ETA 20s" (the ETA only once there is one) */
export function timeText(elapsed: number, eta: number | undefined): string {
  return `${duration(elapsed)} elapsed${eta !== undefined ? `, ETA ${duration(eta)}` : ''}`;
}
