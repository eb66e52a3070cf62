/**
 * Sidecars: `<name>.json` beside each batch output, recording what made it. An output counts as
 * done when its sidecar's key matches the plan and the output's hash matches the sidecar, so a
 * re-run skips finished work, redoes changed settings, and never trusts a damaged file.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { removeTempFiles, writeFileAtomic } from '../media/atomic-file.js';
import type { Settings } from '../edit/frames/settings.js';
import type { PlannedItem, PlannedOutput } from './plan.js';

export interface Sidecar {
  readonly format: 'flowedit.batch-output';
  readonly version: 1;
  readonly key: string;
  readonly item: string;
  readonly code: string;
  readonly command: string;
  readonly model: string;
  readonly flowedit: string;
  readonly input: string;
  readonly inputSha256: string;
  /** swap: the mask, its hash, and how it was grown and feathered */
  readonly mask?: { readonly path: string; readonly sha256: string; readonly grow: number; readonly feather: number };
  readonly preset: string | null;
  readonly sourcePrompt: string;
  readonly targetPrompt: string | null;
  /** swap: the prompt the guidance steered away from, when the item gave one */
  readonly negativePrompt?: string;
  readonly seed: number;
  readonly settings: Settings;
  readonly output: string;
  readonly outputSha256: string;
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function makeSidecar(item: PlannedItem, out: PlannedOutput, model: string, flowedit: string, output: Uint8Array): Sidecar {
  return {
    format: 'flowedit.batch-output',
    version: 1,
    key: out.key,
    item: item.id,
    code: out.code,
    command: item.command,
    model,
    flowedit,
    input: item.input,
    inputSha256: item.inputSha256,
    ...(item.mask !== undefined && item.maskSha256 !== undefined && item.maskOptions !== undefined
      ? { mask: { path: item.mask, sha256: item.maskSha256, grow: item.maskOptions.grow, feather: item.maskOptions.feather } }
      : {}),
    preset: item.preset ?? null,
    sourcePrompt: item.sourcePrompt,
    targetPrompt: out.targetPrompt ?? null,
    ...(item.negativePrompt !== undefined ? { negativePrompt: item.negativePrompt } : {}),
    seed: item.settings.seed,
    settings: item.settings,
    output: basename(out.file),
    outputSha256: sha256(output),
  };
}

export async function writeSidecar(path: string, sidecar: Sidecar): Promise<void> {
  await writeFileAtomic(path, Buffer.from(`${JSON.stringify(sidecar, null, 2)}\n`));
}

/** Whether `out` is finished: sidecar present with the planned key, output present with the recorded hash. */
export async function isDone(out: PlannedOutput): Promise<boolean> {
  const text = await readFile(out.sidecar, 'utf8').catch(() => null);
  if (text === null) return false;
  let sidecar: Partial<Sidecar>;
  try {
    sidecar = JSON.parse(text) as Partial<Sidecar>;
  } catch {
    return false;
  }
  if (sidecar.format !== 'flowedit.batch-output' || sidecar.key !== out.key) return false;
  const bytes = await readFile(out.file).catch(() => null);
  return bytes !== null && sha256(bytes) === sidecar.outputSha256;
}

/**
 * Removes temporary files an earlier run left when it was killed mid-write: writeFileAtomic's
 * temporaries beside the outputs this plan owns (no other file is touched).
 */
export async function removeStaleTemps(outputs: readonly PlannedOutput[]): Promise<number> {
  let removed = 0;
  for (const path of new Set(outputs.flatMap((o) => [o.file, o.sidecar]))) removed += await removeTempFiles(path);
  return removed;
}
