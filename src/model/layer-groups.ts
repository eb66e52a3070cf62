/**
 * Named layer groups (manifest `transformer.layerGroups`, format 2, docs/model-pack.md 2.5): a pack
 * may name sets of its context layers (FLUX.1: `double` for its double-stream blocks, `single` for
 * its single-stream ones), so that a recipe can share context in `single` without knowing the
 * pack's layer numbers. `all`, every context layer, is a group of every pack and cannot be
 * redefined. It imports only the table of settings, so the manifest checker can use it.
 */
import { GROUP_NAME } from '../settings/table.js';
import type { Manifest } from './manifest.js';

/** A group name: lower-case letters, digits and hyphens, starting with a letter (e.g. single). */
export { GROUP_NAME } from '../settings/table.js';

/** The group every pack has: all its context layers. */
export const ALL_LAYERS = 'all';

export function isGroupName(v: unknown): v is string {
  return typeof v === 'string' && GROUP_NAME.test(v);
}

/** The groups flowedit knows by name, for advice when a pack lacks one. */
const KNOWN_GROUPS: Readonly<Record<string, { readonly what: string; readonly family: string }>> = {
  double: { what: "FLUX.1's double-stream blocks", family: 'FLUX.1' },
  single: { what: "FLUX.1's single-stream blocks", family: 'FLUX.1' },
};

/**
 * Problems with a manifest's `transformer.layerGroups` as "<path>: …" lines (none when valid): an
 * object whose keys are group names (not `all`) and whose values are ascending unique indices,
 * at least one, each in `contextLayers`.
 */
export function layerGroupProblems(v: unknown, contextLayers: readonly number[]): string[] {
  const path = 'transformer.layerGroups';
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    return [`${path}: expected an object of group name → layer indices (e.g. {"single": [2, 3]}), received ${JSON.stringify(v)}`];
  }
  const problems: string[] = [];
  for (const [name, layers] of Object.entries(v)) {
    if (!GROUP_NAME.test(name)) problems.push(`${path}.${name}: a group name is lower-case letters, digits and hyphens, starting with a letter (e.g. single)`);
    if (name === ALL_LAYERS) problems.push(`${path}.${name}: "${ALL_LAYERS}" always means every context layer; name the group otherwise`);
    const ints = Array.isArray(layers) && layers.length > 0 && layers.every((l) => typeof l === 'number' && Number.isInteger(l) && l >= 0);
    if (!ints) {
      problems.push(`${path}.${name}: expected an array of layer indices (integers ≥ 0, at least one), received ${JSON.stringify(layers)}`);
      continue;
    }
    const list = layers as number[];
    if (!list.every((l, i) => i === 0 || l > list[i - 1]!)) problems.push(`${path}.${name}: expected ascending unique layer indices`);
    const portless = list.filter((l) => !contextLayers.includes(l));
    if (portless.length > 0) problems.push(`${path}.${name}: ${portless.join(', ')} not in contextLayers (a group shares context, so its layers need context ports)`);
  }
  return problems;
}

/** Who named a group in a run's recipe: the advice for a pack that lacks the group depends on it. */
export type GroupSource = { readonly kind: 'preset'; readonly name: string } | { readonly kind: 'flag' } | { readonly kind: 'item' };

/**
 * The layers group `name` stands for in pack `m` (`all`: its context layers). A pack that does not
 * name the group is refused with what to do: run on a pack that names it, or give layer numbers
 * (`instead`, the layers the run would otherwise share, is the example).
 */
export function resolveLayerGroup(m: Pick<Manifest, 'id' | 'transformer'>, name: string, from: GroupSource, instead: readonly number[]): number[] {
  if (name === ALL_LAYERS) return [...m.transformer.contextLayers];
  const groups = m.transformer.layerGroups ?? {};
  const layers = Object.hasOwn(groups, name) ? groups[name] : undefined;
  if (layers !== undefined) return [...layers];
  const known = Object.hasOwn(KNOWN_GROUPS, name) ? KNOWN_GROUPS[name] : undefined;
  const subject =
    from.kind === 'preset' ? `Preset "${from.name}" shares layer group "${name}"`
    : from.kind === 'flag' ? `--share-layers names layer group "${name}"`
    : `The item's shareLayers names layer group "${name}"`;
  const names = Object.keys(groups);
  const named = names.length > 0 ? ` (it names ${[...names, ALL_LAYERS].join(', ')})` : '';
  const where = known ? `a ${known.family} pack` : `a pack that names it`;
  const fix = from.kind === 'item' ? `shareLayers: [${instead.join(', ')}] in the item` : `--share-layers ${instead.join(',')}`;
  throw new Error(`${subject}${known ? ` (${known.what})` : ''}, which pack '${m.id}' does not name in transformer.layerGroups${named}: run it on ${where}, or give ${fix}`);
}
