// Serves index.html and app.js of this folder on 127.0.0.1: the single-page app's origin,
// distinct from the API's. Node's standard library only.
//
//   node serve.mjs [--port N] [--port-file FILE]
//
// With --port 0 (the default) the system picks a free port; --port-file receives it once the
// server listens, so a script can wait for that file instead of guessing.
import { createServer } from 'node:http';
import { readFile, writeFile, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const port = Number(option('--port', '0'));
const portFile = option('--port-file', null);

const files = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/index.html': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
};

const server = createServer(async (req, res) => {
  const path = new URL(req.url, 'http://localhost').pathname;
  const file = files[path];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD' }).end();
    return;
  }
  if (path === '/favicon.ico') {
    res.writeHead(204).end();
    return;
  }
  if (!file) {
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
    return;
  }
  try {
    const body = await readFile(join(here, file[0]));
    res.writeHead(200, { 'Content-Type': file[1], 'Cache-Control': 'no-store', 'Content-Length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  } catch (e) {
    res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`${e.message}\n`);
  }
});

server.listen(port, '127.0.0.1', async () => {
  const actual = server.address().port;
  if (portFile) {
    // Written whole, then renamed: a reader never sees half a number.
    await writeFile(`${portFile}.tmp`, `${actual}\n`);
    await rename(`${portFile}.tmp`, portFile);
  }
  console.log(`page server on http://localhost:${actual}/`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.closeAllConnections();
    process.exit(0);
  });
}
