// Coffer web app (docs/web.md, "The web app"). No framework, no inline
// script: every decrypted name reaches the page only through textContent,
// previews only through blob: URLs, and the one Trusted Types policy
// admits only the app's own worker scripts.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const meta = (n) => document.querySelector('meta[name="' + n + '"]').content;
  const mode = meta('coffer-mode');
  const previewMax = 32 << 20;
  const textMax = 1 << 20;
  const imageTypes = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp', bmp: 'image/bmp', avif: 'image/avif' };
  const textExts = new Set(['txt', 'md', 'log', 'csv', 'json', 'xml', 'yaml', 'yml', 'ini', 'conf', 'cfg', 'go', 'py', 'js', 'c', 'h', 'rs', 'sh', 'html', 'css', 'tex', 'toml']);

  // The one Trusted Types policy: script URLs of the app's own workers,
  // or blob: URLs of bytes the app verified itself.
  const verifiedBlobs = new Set();
  const policy = (window.trustedTypes ? window.trustedTypes : { createPolicy: (n, p) => p }).createPolicy('coffer', {
    createScriptURL: (u) => {
      if (verifiedBlobs.has(u)) return u;
      const url = new URL(u, location.href);
      if (url.origin === location.origin && /\/sw\.js$/.test(url.pathname)) return u;
      throw new TypeError('script URL refused by the coffer policy');
    },
  });

  let blobURLs = [];
  const objectURL = (blob) => { const u = URL.createObjectURL(blob); blobURLs.push(u); return u; };
  const releaseURLs = () => { blobURLs.forEach((u) => URL.revokeObjectURL(u)); blobURLs = []; };

  // A transport answers the API: fetch() to the native binary in local
  // mode, the WebAssembly Worker in server mode (server.js adds it).
  const local = {
    async call(name, params) {
      const res = await fetch('api/' + name + '?' + new URLSearchParams(params || {}), { credentials: 'same-origin' });
      if (!res.ok) throw new Error(await errorOf(res));
      return res.json();
    },
    async bytes(params) {
      const res = await fetch('api/file?' + new URLSearchParams(params), { credentials: 'same-origin' });
      if (!res.ok) throw new Error(await errorOf(res));
      return res.arrayBuffer();
    },
    download(params) {
      const a = document.createElement('a');
      a.href = 'api/file?' + new URLSearchParams(params);
      a.download = safeName(params.path.split('/').pop());
      document.body.append(a);
      a.click();
      a.remove();
    },
    async signOut() {
      await fetch('api/signout', { method: 'POST', headers: { 'X-Coffer-CSRF': meta('coffer-csrf') }, credentials: 'same-origin' });
    },
  };
  async function errorOf(res) {
    try { return (await res.json()).error; } catch (e) { return res.status + ' ' + res.statusText; }
  }
  let api = local;

  // safeName mirrors webui.SafeName for the download attribute.
  function safeName(n) {
    // eslint-disable-next-line no-control-regex
    let s = n.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff/\\:*?"<>|]/g, '_');
    s = s.replace(/^[. ]+|[. ]+$/g, '');
    return s.slice(0, 200) || 'download';
  }

  function status(msg, isError) {
    $('status').textContent = msg || '';
    $('status').className = isError ? 'error' : '';
  }
  function show(...ids) {
    for (const id of ['signin', 'snapshots', 'folder', 'file', 'devices']) $(id).hidden = !ids.includes(id);
  }
  function el(tag, text, attrs) {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    return e;
  }
  function size(n) {
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n) + ' ' + u[i];
  }
  const guard = (f) => async (...a) => { try { status(''); await f(...a); } catch (e) { status(String(e.message || e), true); } };

  const snapshots = guard(async () => {
    releaseURLs();
    const rows = await api.call('snapshots');
    const body = $('snapshot-rows');
    body.replaceChildren();
    for (const s of rows) {
      const tr = el('tr', undefined, { 'data-testid': 'snapshot', 'data-id': s.id });
      tr.append(el('td', new Date(s.time).toLocaleString()), el('td', s.hostname), el('td', s.device_name),
        el('td', (s.paths || []).join(' ')), el('td', s.short_id));
      tr.addEventListener('click', () => folder(s, '/'));
      body.append(tr);
    }
    show('snapshots', 'devices');
    devices();
  });

  const devices = guard(async () => {
    const list = $('device-list');
    list.replaceChildren();
    for (const d of await api.call('devices')) {
      list.append(el('li', d.name + ' · ' + d.fingerprint + ' · ' + d.rights, { 'data-testid': 'device' }));
    }
  });

  function breadcrumb(s, path) {
    const nav = $('breadcrumb');
    nav.replaceChildren();
    const home = el('button', 'Snapshots', { type: 'button' });
    home.addEventListener('click', snapshots);
    const top = el('button', s.short_id, { type: 'button' });
    top.addEventListener('click', () => folder(s, '/'));
    nav.append(home, ' / ', top);
    let at = '';
    for (const name of path.split('/').filter((x) => x)) {
      at += '/' + name;
      const target = at;
      const b = el('button', name, { type: 'button' });
      b.addEventListener('click', () => folder(s, target));
      nav.append(' / ', b);
    }
  }

  const folder = guard(async (s, path) => {
    releaseURLs();
    const l = await api.call('list', { snap: s.id, path });
    breadcrumb(s, l.path);
    const ul = $('entries');
    ul.replaceChildren();
    for (const e of l.entries) {
      const li = el('li', undefined, { class: e.type });
      const b = el('button', e.name, { type: 'button', 'data-testid': 'entry', 'data-type': e.type });
      const p = (l.path === '/' ? '' : l.path) + '/' + e.name;
      if (e.type === 'dir') b.addEventListener('click', () => folder(s, p));
      else if (e.type === 'file') b.addEventListener('click', () => file(s, p, e));
      li.append(b, el('span', e.type === 'file' ? size(e.size) : e.type, { class: 'size' }));
      ul.append(li);
    }
    $('truncated').hidden = !l.truncated;
    show('folder');
  });

  const file = guard(async (s, path, e) => {
    releaseURLs();
    breadcrumb(s, path);
    $('file-name').textContent = e.name;
    $('file-size').textContent = size(e.size);
    $('download').onclick = guard(async () => api.download({ snap: s.id, path }, e));
    const pv = $('preview');
    pv.replaceChildren();
    show('folder', 'file');
    $('entries').hidden = true;
    const ext = (e.name.split('.').pop() || '').toLowerCase();
    if (e.size > previewMax || !(imageTypes[ext] || textExts.has(ext))) {
      pv.append(el('p', 'No preview for this file.'));
      return;
    }
    const buf = await api.bytes({ snap: s.id, path });
    if (imageTypes[ext]) {
      const img = el('img', undefined, { alt: '' });
      img.src = objectURL(new Blob([buf], { type: imageTypes[ext] }));
      pv.append(img);
    } else {
      const text = new TextDecoder('utf-8').decode(buf.slice(0, textMax));
      pv.append(el('pre', text));
    }
  });

  // Going back to a folder shows its entries again.
  const showEntries = () => { $('entries').hidden = false; };
  $('breadcrumb').addEventListener('click', showEntries);

  const signOut = guard(async () => {
    await api.signOut();
    releaseURLs();
    if (mode !== 'local') return; // the Worker answers "ended"
    show();
    $('sign-out').hidden = true;
    $('expiry').textContent = '';
    status('Signed out. Close this tab.');
  });

  async function start() {
    $('build-hash').textContent = meta('coffer-build') || '(none)';
    $('sign-out').addEventListener('click', signOut);
    if (mode === 'local') {
      $('mode').textContent = 'local mode: this computer\u2019s own keys';
      $('expiry').textContent = 'until you stop coffer web';
      $('sign-out').hidden = false;
      await snapshots();
      return;
    }
    if (!window.cofferServer) {
      status('The server-mode script did not load.', true);
      return;
    }
    api = await window.cofferServer.start({ $, show, status, policy, verifiedBlobs, meta, safeName, onReady: () => snapshots() });
  }

  window.addEventListener('DOMContentLoaded', guard(start));
})();
