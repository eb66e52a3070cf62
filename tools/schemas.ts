/**
 * Writes schemas/preset.schema.json and schemas/batch.schema.json from the table of settings
 * (src/settings/). `npm run docs:schema` rewrites them; a test checks that the committed files
 * match the table.
 *
 *   node dist/tools/schemas.js
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { schemaFiles } from '../src/settings/schema.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SCHEMA_DIR = join(ROOT, 'schemas');

await mkdir(SCHEMA_DIR, { recursive: true });
for (const [name, text] of Object.entries(schemaFiles())) {
  await writeFile(join(SCHEMA_DIR, name), text);
  console.log(`wrote schemas/${name}`);
}
