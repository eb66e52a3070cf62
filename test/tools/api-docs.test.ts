import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { it } from 'node:test';
import { API_DOC, renderApi } from '../../tools/api-docs.js';
import * as api from '../../src/index.js';

it('docs/api.md is generated from the code as it is (npm run docs:api rewrites it)', async () => {
  const text = renderApi();
  assert.equal(await readFile(API_DOC, 'utf8'), text, 'docs/api.md is out of date: run npm run docs:api');
  // every runtime export is documented
  for (const name of Object.keys(api)) assert.match(text, new RegExp(`### \`${name}\``), name);
});
