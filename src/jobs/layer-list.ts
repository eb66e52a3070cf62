/** --share-layers' text: layer numbers, or the name of a layer group the pack declares. */
import { isGroupName } from '../model/layer-groups.js';

/** Parses "1,2, 3" into layer numbers ("" is the empty set), or "single" into a layer group's name (resolved against the pack later). */
export function parseLayerList(text: string): number[] | string {
  const name = text.trim();
  if (isGroupName(name)) return name;
  const parts = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  return parts.map((p) => {
    const n = Number(p);
    if (!Number.isInteger(n) || n < 0) throw new Error(`Expected comma-separated layer numbers or a layer group's name (e.g. single) for --share-layers but received "${text}"`);
    return n;
  });
}
