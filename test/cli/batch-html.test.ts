/**
 * flowedit batch --html, checked as a reader sees it: the page is loaded in headless Chromium after
 * its folder was moved, and every thumbnail must load. Chromium is required (apt-get install
 * chromium, or FLOWEDIT_CHROMIUM naming the binary).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { access, copyFile, cp, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { encodePng } from '../../src/media/image.js';
import { findFfmpeg } from '../../src/media/ffmpeg-tools.js';
import { ROOT, SAMPLE, TINY, tempDir } from '../paths.js';
import { flowedit } from './run.js';

const run = promisify(execFile);

/** Chromium's binary: FLOWEDIT_CHROMIUM, else chromium (or chromium-browser, google-chrome) on PATH. */
async function chromium(): Promise<string> {
  const given = process.env.FLOWEDIT_CHROMIUM;
  const names = given ? [given] : ['chromium', 'chromium-browser', 'google-chrome'];
  for (const name of names) {
    for (const dir of name.includes('/') ? [''] : (process.env.PATH ?? '').split(delimiter)) {
      const file = dir ? join(dir, name) : name;
      if (await access(file, constants.X_OK).then(() => true, () => false)) return file;
    }
  }
  return assert.fail(`Headless Chromium checks the batch report page, but ${given ? `FLOWEDIT_CHROMIUM=${given} is not an executable` : 'no chromium is on PATH'}: install it (apt-get install -y chromium) or set FLOWEDIT_CHROMIUM to its binary`);
}

/** Whether each <img> of the page loaded, as Chromium reports it once the page has loaded. */
const IMAGE_CHECK = `<img id="control" src="report-files/no-such-picture.png" alt="">
<script>
window.addEventListener('load', () => {
  const found = [...document.images].map((i) => ({ src: i.getAttribute('src'), id: i.id, loaded: i.complete && i.naturalWidth > 0 }));
  const pre = document.createElement('pre');
  pre.id = 'image-check';
  pre.textContent = JSON.stringify(found);
  document.body.appendChild(pre);
});
</script>
</body>`;

/** Loads `page` in headless Chromium and returns the DOM it ends with. */
async function loadedDom(browser: string, page: string, profile: string): Promise<string> {
  const { stdout } = await run(browser, ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', `--user-data-dir=${profile}`, '--virtual-time-budget=10000', '--dump-dom', pathToFileURL(page).href], { timeout: 120_000, maxBuffer: 64 << 20 });
  return stdout;
}

test('batch --html: a page that loads after its folder is moved, every thumbnail resolving; failures with their reason', { timeout: 300_000 }, async () => {
  const browser = await chromium(); // before the batch: without it the test fails at once, saying how to install it
  const dir = await tempDir('flowedit-batch-html-');
  await copyFile(SAMPLE, join(dir, 'circle.png'));
  await copyFile(join(ROOT, 'samples/red-circle-mask.png'), join(dir, 'circle-mask.png'));
  // a 3-frame clip and a folder of per-frame masks
  const tools = await findFfmpeg();
  await run(tools.ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=32x32:rate=10', '-frames:v', '3', '-c:v', 'libx264', '-crf', '10', '-pix_fmt', 'yuv420p', join(dir, 'clip.mp4')]);
  await mkdir(join(dir, 'masks'));
  for (let f = 0; f < 3; f++) {
    const data = new Float32Array(3 * 32 * 32).fill(-1);
    for (let c = 0; c < 3; c++) for (let y = 8; y < 24; y++) data.fill(1, c * 1024 + y * 32 + 8 + f, c * 1024 + y * 32 + 20 + f);
    await writeFile(join(dir, 'masks', `${f + 1}.png`), await encodePng({ width: 32, height: 32, data }));
  }
  const manifest = join(dir, 'batch.yaml');
  await writeFile(manifest, [
    'items:',
    '  - {id: circle, input: circle.png, sourcePrompt: a red circle, targets: {blue: a blue circle}}',
    '  - {id: swap, input: circle.png, mask: circle-mask.png, preset: swap-object, sourcePrompt: a red circle, targets: {square: a blue square}}',
    '  - {id: broken, input: circle.png, sourcePrompt: a red circle, targets: {x: a green circle}}',
    '  - {id: film, input: clip.mp4, mask: masks, preset: swap-object, sourcePrompt: a test pattern, targets: {star: a yellow star}}',
    '',
  ].join('\n'));
  const out = join(dir, 'out');
  await mkdir(join(out, 'broken-x.png'), { recursive: true }); // that item fails as it writes
  const r = await flowedit(['batch', manifest, '--out', out, '--model', TINY, '--steps', '2', '--threads', '1', '--html', '-q']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /batch: 3 done, 0 skipped, 1 failed \(report: .*batch-report\.json, .*report\.html\)/);
  const report = JSON.parse(await readFile(join(out, 'batch-report.json'), 'utf8')) as { items: { id: string; status: string; outputs: string[] }[] };
  const page = await readFile(join(out, 'report.html'), 'utf8');
  // every link and picture is relative to the page
  const refs = [...page.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1]!);
  assert.ok(refs.length > 0);
  for (const ref of refs) assert.doesNotMatch(ref, /^(\/|[a-z]+:)/i, `${ref} is relative`);
  if (process.env.FLOWEDIT_EXAMPLES_DIR) await cp(out, join(process.env.FLOWEDIT_EXAMPLES_DIR, 'batch-report'), { recursive: true });

  // moved elsewhere, with a picture that cannot load added as a control, and loaded in Chromium
  const moved = join(dir, 'moved');
  await rename(out, moved);
  const check = join(moved, 'report-check.html');
  await writeFile(check, page.replace('</body>', IMAGE_CHECK));
  const dom = await loadedDom(browser, check, join(dir, 'profile'));
  const found = /<pre id="image-check">([^<]*)<\/pre>/.exec(dom);
  assert.ok(found, `the page's check ran: ${dom.slice(0, 500)}`);
  const images = JSON.parse(found[1]!.replace(/&quot;/g, '"').replace(/&amp;/g, '&')) as { src: string; id: string; loaded: boolean }[];
  const control = images.find((i) => i.id === 'control');
  assert.equal(control?.loaded, false, 'a missing picture is seen as not loaded');
  const thumbs = images.filter((i) => i.id !== 'control');
  for (const i of thumbs) assert.ok(i.loaded, `${i.src} loads`);
  // a thumbnail per source, per mask and per output made
  const made = report.items.filter((i) => i.status === 'done').reduce((n, i) => n + i.outputs.length, 0);
  assert.equal(thumbs.length, 4 + 2 + made);
  assert.equal(made, 3);
  assert.match(dom, /<tr class="item failed" id="item-3">[\s\S]*?not made[\s\S]*?Cannot write [^<]*broken-x\.png: it is a directory/);
  assert.match(dom, /<tr class="item done" id="item-4">[\s\S]*?clip, 32×32, frame 2 of 3/);
});
