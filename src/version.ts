/** flowedit's own version, read once from package.json when first asked for. */
import { readFileSync } from 'node:fs';

let cached: string | undefined;

export function flowEditVersion(): string {
  if (cached === undefined) {
    // dist/src/version.js and src/version.ts both sit two folders below the package root.
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    cached = pkg.version;
  }
  return cached;
}
