// Coffer web app, the Worker (docs/web.md, "The web app"): appended to
// Go's wasm_exec.js into static/worker.js by scripts/webwasm.sh. It loads
// the WebAssembly, checking its integrity, and relays the page's messages
// to the Go functions on self.cofferGo; Go posts its answers itself.
'use strict';
(() => {
  // Go's panics and prints go to the page's console, where they can be
  // seen (a Worker's own console is apart).
  for (const level of ['log', 'error']) {
    const orig = console[level].bind(console);
    console[level] = (...a) => { orig(...a); self.postMessage({ type: 'log', text: a.join(' ') }); };
  }
  let started = false;
  self.onmessage = async (ev) => {
    const m = ev.data;
    if (m.type === 'init') {
      if (started) return;
      started = true;
      self.cofferOrigin = m.origin;
      self.cofferBuild = m.build;
      try {
        const go = new Go();
        const res = await fetch(m.wasm, { integrity: m.integrity, credentials: 'omit' });
        const { instance } = await WebAssembly.instantiateStreaming(res, go.importObject);
        go.run(instance);
      } catch (e) {
        self.postMessage({ type: 'failed', error: 'loading the WebAssembly: ' + e });
      }
      return;
    }
    const g = self.cofferGo;
    if (!g) return;
    switch (m.type) {
      case 'request': g.request(m.id, m.method || 'GET', m.url); break;
      case 'ack': g.ack(m.id); break;
      case 'cancel': g.cancel(m.id); break;
      case 'signOut': g.signOut(); break;
    }
  };
})();
