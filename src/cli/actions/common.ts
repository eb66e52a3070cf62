/** What the commands share on the command line: --print-config, and the checks batch and layers call. */
import type { PresetArgs } from '../options.js';

export { checkModelFlags, checkOutput, resolvePack, userCheck } from '../../jobs/checks.js';

/**
 * With --print-config, prints what a command would run with (as JSON on stdout) and returns true:
 * the caller then stops before any model loads.
 */
export function printedConfig(a: Partial<PresetArgs>, config: Record<string, unknown>): boolean {
  if (!a['print-config']) return false;
  process.stdout.write(`${JSON.stringify({ ...(a.preset !== undefined ? { preset: a.preset } : {}), ...config }, null, 2)}\n`);
  return true;
}

