/**
 * The batch's report page: `report.html` in the output folder, a table of the items with a
 * thumbnail of each source (and mask) and output, the settings each ran with, and its status (a
 * failure with its reason). Thumbnails are PNGs in `report-files/` (a clip's: its middle frame,
 * linked to the clip); every link is relative, so the folder can be moved or served as it is.
 */
import { mkdir, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { writeFileAtomic } from '../media/atomic-file.js';
import { encodePng } from '../media/image.js';
import { isMaskImagePath } from '../media/mask.js';
import { shownFrame, thumbnail } from '../media/preview.js';
import type { Settings } from '../edit/frames/settings.js';
import { flowEditVersion } from '../version.js';
import { assertOutputInside } from './confine.js';
import type { BatchPlan, PlannedItem } from './plan.js';
import { shardSuffix, type Shard } from './shard.js';
import type { BatchReport, ItemReport } from './run.js';

/** The page's file in the output folder. */
export function htmlReportPath(outDir: string, shard?: Shard): string {
  return join(outDir, `report${shardSuffix(shard)}.html`);
}

/** The thumbnails' folder, beside the page. */
export const THUMBNAIL_DIR = 'report-files';

/** Longest side of a thumbnail, in pixels. */
const THUMB = 256;

const html = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A relative link (forward slashes, each part URL-encoded). */
const href = (rel: string): string => rel.split(sep).map(encodeURIComponent).join('/');

interface Shown {
  /** the thumbnail, relative to the output folder */
  readonly thumb: string;
  /** what it shows, e.g. "clip, frame 9 of 17" */
  readonly note: string;
}

/** The middle image of a mask folder (natural order), which stands for the folder. */
async function folderFrame(dir: string): Promise<string> {
  const names = (await readdir(dir)).filter(isMaskImagePath).sort(new Intl.Collator(undefined, { numeric: true }).compare);
  if (names.length === 0) throw new Error(`${dir} holds no images`);
  return join(dir, names[Math.floor(names.length / 2)]!);
}

/** Makes the thumbnail `name` of a still, a clip (its middle frame) or a mask folder, inside the output folder. */
async function makeThumbnail(outDir: string, path: string, name: string, item: PlannedItem): Promise<Shown> {
  const file = (await stat(path)).isDirectory() ? await folderFrame(path) : path;
  const shown = await shownFrame(file, item.tools ? { tools: item.tools } : {});
  const thumb = join(outDir, THUMBNAIL_DIR, name);
  await assertOutputInside(outDir, thumb);
  await writeFileAtomic(thumb, await encodePng(await thumbnail(shown.image, THUMB)));
  const { width, height } = shown.image;
  const note = shown.frames > 1 ? `clip, ${width}×${height}, frame ${shown.index + 1} of ${shown.frames}` : `${width}×${height}`;
  return { thumb: relative(outDir, thumb), note };
}

/** A figure: the thumbnail (linked to `link` when given), a caption; or why there is none. */
async function figure(outDir: string, item: PlannedItem, path: string, name: string, caption: string, link?: string): Promise<string> {
  let shown: Shown;
  try {
    shown = await makeThumbnail(outDir, path, name, item);
  } catch (err) {
    return `<figure class="none"><div class="missing">no preview: ${html((err as Error).message)}</div><figcaption>${caption}</figcaption></figure>`;
  }
  const img = `<img src="${href(shown.thumb)}" alt="${html(basename(path))}">`;
  return `<figure>${link !== undefined ? `<a href="${href(link)}">${img}</a>` : img}<figcaption>${caption}<br><span class="note">${html(shown.note)}</span></figcaption></figure>`;
}

/** The settings an item ran with, as a short list (guidance and sharing not for a reconstruction, mask settings only for masked items). */
function settingsList(s: Settings, item: PlannedItem): string {
  const rows: [string, string][] = [['steps', String(s.steps)], ['solver', s.solver]];
  if (item.command !== 'reconstruct') {
    rows.push(['guidance', `${s.guidance} (against ${s.guideAgainst})`], ['share layers', s.shareLayers.join(', ') || 'none'], ['share steps', String(s.shareSteps)]);
  }
  rows.push(['seed', String(s.seed)], ['fit', s.fit]);
  if (item.command === 'edit') rows.push(['auto mask', s.autoMask > 0 ? String(s.autoMask) : 'off']);
  if (item.mask !== undefined) rows.push(['mask', `grow ${s.maskGrow}, feather ${s.maskFeather}, bias ${s.maskBias}`]);
  if (s.shareText) rows.push(['share text', 'on']);
  if (s.shift !== undefined) rows.push(['shift', String(s.shift)]);
  if (item.negativePrompt !== undefined) rows.push(['negative prompt', item.negativePrompt]);
  return `<dl class="settings">${rows.map(([k, v]) => `<dt>${html(k)}</dt><dd>${html(v)}</dd>`).join('')}</dl>`;
}

async function itemRow(plan: BatchPlan, item: PlannedItem, r: ItemReport | undefined): Promise<string> {
  const out = plan.outDir;
  const shownPath = (p: string) => relative(dirname(plan.manifest), p) || basename(p);
  const sources = [await figure(out, item, item.input, `item-${item.index}-source.png`, `source: ${html(shownPath(item.input))}<br>“${html(item.sourcePrompt)}”`)];
  if (item.mask !== undefined) sources.push(await figure(out, item, item.mask, `item-${item.index}-mask.png`, `mask: ${html(shownPath(item.mask))}`));
  const outputs: string[] = [];
  for (const o of item.outputs) {
    const rel = relative(out, o.file);
    const made = (await stat(o.file).catch(() => null))?.isFile() === true;
    const caption = `${made ? `<a href="${href(rel)}">${html(rel)}</a>` : html(rel)}${o.targetPrompt !== undefined ? `<br>“${html(o.targetPrompt)}”` : ''}`;
    outputs.push(made ? await figure(out, item, o.file, `item-${item.index}-${o.code}.png`, caption, rel) : `<figure class="none"><div class="missing">not made</div><figcaption>${caption}</figcaption></figure>`);
  }
  const status = r?.status ?? 'cancelled';
  const why = r?.reason !== undefined ? `<div class="reason">${html(r.reason)}</div>` : '';
  const time = r && r.status === 'done' ? `<div class="note">${r.seconds.toFixed(1)} s</div>` : '';
  return [
    `<tr class="item ${status}" id="item-${item.index}">`,
    `<td>${item.index}</td>`,
    `<td><b>${html(item.id)}</b><br>${item.command}${item.preset !== undefined ? `<br>preset ${html(basename(item.preset))}` : ''}</td>`,
    `<td class="pictures">${sources.join('')}</td>`,
    `<td class="pictures">${outputs.join('')}</td>`,
    `<td>${settingsList(item.settings, item)}</td>`,
    `<td class="status"><span class="badge">${status}</span>${why}${time}</td>`,
    '</tr>',
  ].join('');
}

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: 6px 8px; vertical-align: top; text-align: left; }
th { background: #f4f4f4; position: sticky; top: 0; }
figure { display: inline-block; margin: 0 8px 8px 0; max-width: 260px; vertical-align: top; }
figure img { display: block; max-width: 256px; max-height: 256px; min-width: 96px; image-rendering: pixelated; border: 1px solid #ccc; }
figcaption, .note { font-size: 12px; color: #555; word-break: break-all; }
.missing { width: 128px; height: 96px; display: flex; align-items: center; justify-content: center; background: #eee; color: #888; font-size: 12px; text-align: center; }
dl.settings { display: grid; grid-template-columns: auto 1fr; gap: 0 8px; margin: 0; font-size: 12px; }
dl.settings dt { color: #666; } dl.settings dd { margin: 0; }
.badge { display: inline-block; padding: 1px 6px; border-radius: 3px; background: #ddd; font-weight: 600; }
tr.done .badge { background: #cdeccd; } tr.skipped .badge { background: #dde6f4; }
tr.failed .badge { background: #f6c9c9; } tr.cancelled .badge { background: #f4e6c2; }
tr.failed { background: #fff6f6; } .reason { color: #a00; margin-top: 4px; max-width: 24em; }
`;

/**
 * Writes report.html (and its thumbnails) for a batch's plan and report; returns the page's path.
 * A picture that cannot be read is shown as "no preview" with the reason, not an error.
 */
export async function writeHtmlReport(plan: BatchPlan, report: BatchReport): Promise<string> {
  const page = htmlReportPath(plan.outDir, plan.shard);
  await assertOutputInside(plan.outDir, page);
  await mkdir(join(plan.outDir, THUMBNAIL_DIR), { recursive: true });
  const rows: string[] = [];
  for (const item of plan.items) rows.push(await itemRow(plan, item, report.items.find((r) => r.index === item.index)));
  const c = report.counts;
  const counts = `${c.done} done, ${c.skipped} skipped, ${c.failed} failed${c.cancelled ? `, ${c.cancelled} cancelled` : ''}`;
  const doc = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>flowedit batch: ${html(basename(plan.manifest))}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>flowedit batch: ${html(basename(plan.manifest))}</h1>
<p class="summary">${html(counts)} · model ${html(report.model)} · batch seed ${report.batchSeed} · concurrency ${report.concurrency} · flowedit ${html(flowEditVersion())} · <a href="batch-report.json">batch-report.json</a></p>
<table>
<thead><tr><th>#</th><th>item</th><th>source</th><th>outputs</th><th>settings</th><th>status</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>
</body>
</html>
`;
  await writeFileAtomic(page, Buffer.from(doc));
  return page;
}
