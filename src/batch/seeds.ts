/** Item seeds: derived from the batch seed and the item's id, so reordering items changes no seed. */
import { createHash } from 'node:crypto';

/** A seed in [0, 2^31) from the batch seed and an item id (SHA-256, first 4 bytes). */
export function itemSeed(batchSeed: number, itemId: string): number {
  const h = createHash('sha256').update(`flowedit.batch\0${batchSeed}\0${itemId}`).digest();
  return h.readUInt32BE(0) >>> 1;
}
