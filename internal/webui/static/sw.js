// Coffer web app, the Service Worker (docs/web.md, "The web app"): it
// turns a download the page's Worker decrypts into a response the browser
// saves to disk as it arrives, so no whole file is ever held in memory.
// It holds no key and sees only plaintext chunks of the downloads the page
// hands it, through a MessagePort, for a path dl/ID it answers once.
'use strict';
const pending = new Map();

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));

self.addEventListener('message', (e) => {
  const m = e.data;
  if (m && m.type === 'download' && e.ports[0] && /^[A-Za-z0-9_-]{16,64}$/.test(m.id)) {
    pending.set(m.id, { port: e.ports[0], name: String(m.name), size: Number(m.size) });
    e.ports[0].postMessage({ type: 'registered' });
  }
});

self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  const match = url.origin === self.location.origin && url.pathname.match(/\/dl\/([A-Za-z0-9_-]{16,64})$/);
  if (!match) return;
  const d = pending.get(match[1]);
  pending.delete(match[1]);
  if (!d) {
    e.respondWith(new Response('no such download', { status: 404 }));
    return;
  }
  e.respondWith(new Response(body(d.port), {
    headers: {
      'Content-Type': 'application/octet-stream',
      'Content-Disposition': "attachment; filename*=UTF-8''" + encodeURIComponent(d.name),
      'Content-Length': String(d.size),
      'X-Content-Type-Options': 'nosniff',
    },
  }));
});

// body is a stream fed by the page's chunks; each chunk is acknowledged
// once the browser pulls for more, which holds the decryption back to the
// pace of the disk.
function body(port) {
  let owed = 0;
  return new ReadableStream({
    start(ctrl) {
      port.onmessage = (ev) => {
        const m = ev.data;
        if (m.type === 'chunk') {
          ctrl.enqueue(new Uint8Array(m.data));
          if (ctrl.desiredSize > 0) port.postMessage({ type: 'ack' });
          else owed++;
        } else if (m.type === 'end') {
          if (m.error) ctrl.error(new Error(m.error));
          else ctrl.close();
          port.close();
        }
      };
      port.postMessage({ type: 'start' });
    },
    pull() {
      for (; owed > 0; owed--) port.postMessage({ type: 'ack' });
    },
    cancel() {
      port.postMessage({ type: 'cancel' });
      port.close();
    },
  }, { highWaterMark: 16 });
}
