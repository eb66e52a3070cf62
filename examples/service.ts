/**
 * An edit service in plain node:http: POST an image to /edit?source=…&target=… and read back
 * JSON Lines: progress events as the edit runs, then the edited PNG (base64). The model runs in
 * flowedit's worker pool, so the server keeps answering while it computes; a client that hangs
 * up cancels its edit.
 *
 *   node dist/examples/service.js            # PORT (default 8080), FLOWEDIT_MODEL, WORKERS
 *   curl --data-binary @photo.png 'localhost:8080/edit?source=a+red+circle&target=a+blue+circle&steps=8'
 *
 * In your own project, import from 'flowedit' instead of the relative path.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { createFlowedit, type Flowedit } from '../src/index.js';

/** Largest upload taken. */
const MAX_BYTES = 20 * 1024 * 1024;

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BYTES) throw new Error(`upload larger than ${MAX_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function reply(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(value)}\n`);
}

async function edit(fe: Flowedit, req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
  const target = query.get('target');
  if (!target) return reply(res, 400, { error: 'give the edit as ?target=<prompt> (and the image\'s caption as &source=<prompt>)' });
  const input = await body(req);
  if (input.length === 0) return reply(res, 400, { error: 'POST the image as the request body' });
  // the client hanging up cancels the edit after its current step
  const cancel = new AbortController();
  res.on('close', () => cancel.abort(new Error('client went away')));
  const line = (v: unknown) => res.write(`${JSON.stringify(v)}\n`);
  const steps = query.get('steps');
  try {
    const out = await fe.edit(
      {
        input,
        sourcePrompt: query.get('source') ?? '',
        targetPrompt: target,
        ...(steps ? { steps: Number(steps) } : {}),
        ...(query.get('preset') ? { preset: query.get('preset')! } : {}),
      },
      {
        signal: cancel.signal,
        onProgress: (p) => {
          if (!res.headersSent) res.writeHead(200, { 'content-type': 'application/x-ndjson' });
          line({ type: 'progress', phase: p.phase, step: p.step, steps: p.steps });
        },
      },
    );
    if (!res.headersSent) res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    line({ type: 'done', calls: out.calls, seconds: out.seconds, png: out.bytes!.toString('base64') });
    res.end();
  } catch (err) {
    if (cancel.signal.aborted) return;
    // a request refused before any work is a client error; later, the stream says what failed
    if (!res.headersSent) return reply(res, 400, { error: (err as Error).message });
    line({ type: 'error', message: (err as Error).message });
    res.end();
  }
}

export interface Service {
  readonly url: string;
  close(): Promise<void>;
}

/** Starts the service on `port` (0: any free port). */
export async function startService(opts: { port?: number; workers?: number; model?: string } = {}): Promise<Service> {
  const fe = createFlowedit({ workers: opts.workers ?? 1, ...(opts.model ? { model: opts.model } : {}) });
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'POST' && url.pathname === '/edit') {
      edit(fe, req, res, url.searchParams).catch((err: Error) => (res.headersSent ? res.end() : reply(res, 500, { error: err.message })));
    } else if (req.method === 'GET' && url.pathname === '/health') reply(res, 200, { ok: true, workers: fe.workers });
    else reply(res, 404, { error: 'POST /edit?source=…&target=… with the image as the body' });
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await fe.close();
    },
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const service = await startService({
    port: Number(process.env.PORT ?? 8080),
    workers: Number(process.env.WORKERS ?? 1),
    ...(process.env.FLOWEDIT_MODEL ? { model: process.env.FLOWEDIT_MODEL } : {}),
  });
  process.stderr.write(`flowedit service on ${service.url} (POST /edit)\n`);
  const stop = () => void service.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
