// Coffer web app, server mode (docs/web.md, "The web app"): the page
// starts the Worker that runs the WebAssembly, shows the session code and
// the comparison code, and then answers the app's API calls through the
// Worker; downloads stream through the Service Worker (sw.js).
'use strict';
(() => {
  let worker;
  let nextID = 1;
  const calls = new Map();

  function randomID() {
    const b = crypto.getRandomValues(new Uint8Array(18));
    return btoa(String.fromCharCode(...b)).replace(/\+/g, '-').replace(/\//g, '_');
  }

  // request runs one API call in the Worker; sink gets the head, each
  // chunk (to acknowledge with ack) and the end.
  function request(url, sink) {
    const id = nextID++;
    calls.set(id, sink);
    worker.postMessage({ type: 'request', id, method: 'GET', url });
    return id;
  }
  const ack = (id) => worker.postMessage({ type: 'ack', id });

  // collect gathers a whole answer: JSON and previews only, both small.
  function collect(url) {
    return new Promise((resolve, reject) => {
      const parts = [];
      let status = 0;
      request(url, {
        head: (m) => { status = m.status; },
        chunk: (m, id) => { parts.push(new Uint8Array(m.data)); ack(id); },
        end: (m) => {
          const blob = new Blob(parts);
          if (m.error) reject(new Error(m.error));
          else resolve({ status, blob });
        },
      });
    });
  }

  async function call(name, params) {
    const { status, blob } = await collect(name + '?' + new URLSearchParams(params || {}));
    const v = JSON.parse(await blob.text());
    if (status >= 400) throw new Error(v.error || 'error ' + status);
    return v;
  }

  async function bytes(params) {
    const { status, blob } = await collect('file?' + new URLSearchParams(params));
    if (status >= 400) throw new Error(JSON.parse(await blob.text()).error);
    return blob.arrayBuffer();
  }

  // download hands the Service Worker a port, navigates to dl/ID, and
  // relays the Worker's chunks to it as the browser saves them.
  async function download(params, e, ui) {
    const sw = navigator.serviceWorker && navigator.serviceWorker.controller;
    if (!sw) throw new Error('the download service worker is not running yet; reload the page');
    const id = randomID();
    const ch = new MessageChannel();
    const port = ch.port1;
    let reqID = 0;
    port.onmessage = (ev) => {
      const m = ev.data;
      if (m.type === 'registered') {
        const a = document.createElement('a');
        a.href = 'dl/' + id;
        document.body.append(a);
        a.click();
        a.remove();
      } else if (m.type === 'start') {
        reqID = request('file?' + new URLSearchParams(params), {
          head: (h) => { if (h.status >= 400) ui.status('download failed: ' + h.status, true); },
          chunk: (c) => port.postMessage({ type: 'chunk', data: c.data }, [c.data.buffer]),
          end: (end) => port.postMessage({ type: 'end', error: end.error || '' }),
        });
      } else if (m.type === 'ack' && reqID) {
        ack(reqID);
      } else if (m.type === 'cancel' && reqID) {
        worker.postMessage({ type: 'cancel', id: reqID });
      }
    };
    sw.postMessage({ type: 'download', id, name: ui.safeName(e.name), size: e.size }, [ch.port2]);
  }

  // drawQR draws the code's QR modules, 4 pixels each.
  function drawQR(canvas, rows) {
    if (!rows || !rows.length) return;
    const s = 4;
    canvas.width = canvas.height = rows.length * s;
    const g = canvas.getContext('2d');
    g.fillStyle = '#fff';
    g.fillRect(0, 0, canvas.width, canvas.height);
    g.fillStyle = '#000';
    rows.forEach((row, y) => {
      for (let x = 0; x < row.length; x++) if (row[x] === '1') g.fillRect(x * s, y * s, s, s);
    });
  }

  function countdown(ui, expires) {
    const tick = () => {
      const left = Math.max(0, Math.floor((expires - Date.now()) / 1000));
      ui.$('expiry').textContent = 'session ends in ' + Math.floor(left / 60) + ':' + String(left % 60).padStart(2, '0');
      if (left > 0) setTimeout(tick, 1000);
    };
    tick();
  }

  function ended(ui, why) {
    if (worker) worker.terminate();
    worker = null;
    ui.show();
    ui.$('sign-out').hidden = true;
    ui.$('expiry').textContent = '';
    ui.status('Session ' + why + '. The page holds no keys any more; close this tab.', why !== 'signed out');
  }

  async function startWorker(ui) {
    const res = await fetch('worker.js', { integrity: ui.meta('coffer-sri-worker'), credentials: 'same-origin' });
    const u = URL.createObjectURL(new Blob([await res.arrayBuffer()], { type: 'text/javascript' }));
    ui.verifiedBlobs.add(u);
    worker = new Worker(ui.policy.createScriptURL(u));
    worker.postMessage({ type: 'init', wasm: new URL('coffer.wasm', location.href).href, integrity: ui.meta('coffer-sri-wasm'),
      origin: location.origin, build: ui.meta('coffer-build') });
  }

  window.cofferServer = {
    async start(ui) {
      if (navigator.serviceWorker) {
        navigator.serviceWorker.register(ui.policy.createScriptURL('sw.js'), { scope: './' })
          .catch((e) => ui.status('downloads will not work: ' + e, true));
      }
      ui.$('mode').textContent = 'signing in';
      ui.show('signin');
      ui.$('session-code').textContent = '…';
      await startWorker(ui);
      worker.onmessage = (ev) => {
        const m = ev.data;
        switch (m.type) {
          case 'code': ui.$('session-code').textContent = m.code; drawQR(ui.$('qr'), m.qr); break;
          case 'compare': ui.$('compare-code').textContent = m.compare; break;
          case 'ready':
            ui.$('mode').textContent = 'read-only browser session';
            ui.$('sign-out').hidden = false;
            countdown(ui, m.expires);
            ui.onReady();
            break;
          case 'failed': ui.status('sign-in failed: ' + m.error, true); break;
          case 'log': console.log('worker: ' + m.text); break;
          case 'ended': ended(ui, m.why); break;
          default: {
            const sink = calls.get(m.id);
            if (!sink) return;
            if (m.type === 'head') sink.head(m);
            else if (m.type === 'chunk') sink.chunk(m, m.id);
            else if (m.type === 'end') { calls.delete(m.id); sink.end(m); }
          }
        }
      };
      return {
        call, bytes,
        download: (params, e) => download(params, e, ui),
        signOut: async () => { if (worker) worker.postMessage({ type: 'signOut' }); },
      };
    },
  };
})();
