import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { startService, type Service } from '../../examples/service.js';
import { SAMPLE, TINY } from '../paths.js';

describe('the example edit service', () => {
  let service: Service;
  before(async () => {
    service = await startService({ model: TINY });
  });
  after(() => service.close());

  it('takes an upload, streams progress as JSON Lines and returns the edited PNG', async () => {
    const image = await readFile(SAMPLE);
    const res = await fetch(`${service.url}/edit?source=a+red+circle&target=a+blue+circle&steps=2`, { method: 'POST', body: image });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
    const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l) as { type: string; phase?: string; png?: string });
    const last = lines.at(-1)!;
    assert.equal(last.type, 'done', JSON.stringify(last).slice(0, 300));
    assert.ok(lines.filter((l) => l.type === 'progress').some((l) => l.phase === 'sample'), 'progress streamed');
    const meta = await sharp(Buffer.from(last.png!, 'base64')).metadata();
    const source = await sharp(image).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['png', source.width, source.height]);
  });

  it('refuses a request without a target prompt, and one the checks refuse, with 400 and the reason', async () => {
    const image = await readFile(SAMPLE);
    const none = await fetch(`${service.url}/edit`, { method: 'POST', body: image });
    assert.equal(none.status, 400);
    assert.match(((await none.json()) as { error: string }).error, /target=/);
    const bad = await fetch(`${service.url}/edit?target=x&steps=0`, { method: 'POST', body: image });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /steps/);
  });
});
