// The whole browser flow against a Forge API on another origin, in cookie mode
// (`FORGE_AUTH__REFRESH_COOKIE=true`): register, log in, refresh through the cookie, open a
// WebSocket with a ticket, ping, run an export and follow its events, log out and watch the
// socket close. Every step's outcome goes into `window.__results`, which run.mjs reads.
//
// Open as index.html?api=http://localhost:<api port>.
'use strict';

(function () {
  const params = new URLSearchParams(location.search);
  const API = (params.get('api') || '').replace(/\/+$/, '');

  const results = {
    done: false,
    ok: null,
    error: null,
    api: API,
    origin: location.origin,
    steps: [],
    // Every WebSocket message, in arrival order: { t, raw, type, data, id }.
    messages: [],
    data: {},
  };
  window.__results = results;

  const el = (id) => document.getElementById(id);

  function render() {
    el('api').textContent = API || '(none: pass ?api=)';
    const status = el('status');
    status.textContent = results.done ? (results.ok ? 'passed' : `failed: ${results.error}`) : 'running';
    status.className = results.done ? (results.ok ? 'ok' : 'failed') : '';
    const rows = results.steps.map((s) => {
      const tr = document.createElement('tr');
      for (const text of [s.name, s.ok ? 'yes' : 'NO', s.detail]) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.appendChild(td);
      }
      return tr;
    });
    el('steps').replaceChildren(...rows);
    el('messages').textContent = results.messages.map((m) => `${m.t.toFixed(0).padStart(7)} ms  ${m.raw}`).join('\n');
  }

  class StepFailed extends Error {}

  // Runs `fn`, records its outcome as step `name`; a failed step ends the flow.
  async function step(name, fn) {
    const started = performance.now();
    try {
      const detail = await fn();
      results.steps.push({ name, ok: true, detail: String(detail ?? ''), ms: Math.round(performance.now() - started) });
      render();
    } catch (e) {
      const detail = e instanceof StepFailed ? e.message : `${e && e.name}: ${e && e.message}`;
      results.steps.push({ name, ok: false, detail, ms: Math.round(performance.now() - started) });
      render();
      throw new StepFailed(`${name}: ${detail}`);
    }
  }

  function expect(condition, message) {
    if (!condition) throw new StepFailed(message);
  }

  // A cross-origin request to the API with credentials (the refresh cookie rides along).
  async function api(method, path, { token, body, headers = {} } = {}) {
    const init = { method, credentials: 'include', headers: { Accept: 'application/json', ...headers } };
    if (token) init.headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(`${API}${path}`, init);
    } catch (e) {
      // A CORS refusal or a network error: the browser hides which one from the script.
      throw new StepFailed(`${method} ${path}: fetch failed (${e.message}); see the browser console`);
    }
    const text = await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch (_) {
      json = null;
    }
    return { status: res.status, json, text, at: performance.now() };
  }

  function describe(res) {
    const body = res.text.length > 300 ? `${res.text.slice(0, 300)}...` : res.text;
    return `HTTP ${res.status} ${body}`;
  }

  // The socket and helpers to wait for a message or for its close.
  let socket = null;
  const waiters = [];
  let closed = null;
  const closeWaiters = [];

  function onMessage(ev) {
    const raw = typeof ev.data === 'string' ? ev.data : `(binary ${ev.data.size || ev.data.byteLength} bytes)`;
    let parsed = null;
    try {
      parsed = JSON.parse(raw);
    } catch (_) {
      parsed = null;
    }
    const message = {
      t: performance.now(),
      raw,
      type: parsed && parsed.type,
      data: parsed && parsed.data,
      id: parsed && parsed.id,
    };
    results.messages.push(message);
    render();
    for (const w of waiters.slice()) {
      if (w.match(message)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(message);
      }
    }
  }

  function nextMessage(what, match, timeoutMs) {
    const seen = results.messages.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = { match, resolve, reject, what };
      waiters.push(waiter);
      setTimeout(() => {
        const i = waiters.indexOf(waiter);
        if (i >= 0) {
          waiters.splice(i, 1);
          const state = closed ? `; the socket closed with ${closed.code} ${closed.reason}` : '';
          reject(new StepFailed(`no ${what} within ${timeoutMs} ms${state}`));
        }
      }, timeoutMs);
    });
  }

  function socketClosed(timeoutMs) {
    if (closed) return Promise.resolve(closed);
    return new Promise((resolve) => {
      closeWaiters.push(resolve);
      setTimeout(() => resolve(null), timeoutMs);
    });
  }

  async function flow() {
    expect(API, 'no API URL: open this page with ?api=http://localhost:<port>');
    const suffix = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    const email = `e2e-${suffix}@example.com`;
    const username = `e2e_${suffix}`;
    const password = 'Vq7#mLp2!xZr-Tide';
    const d = results.data;
    d.email = email;
    d.username = username;

    await step('register', async () => {
      const res = await api('POST', '/api/v1/auth/register', { body: { email, username, password } });
      d.register_status = res.status;
      expect(res.status === 201, describe(res));
      return `201 as ${username}`;
    });

    let access = null;
    await step('login', async () => {
      const res = await api('POST', '/api/v1/auth/login', { body: { email, password } });
      d.login_status = res.status;
      expect(res.status === 200, describe(res));
      expect(res.json && typeof res.json.access_token === 'string', `no access_token: ${describe(res)}`);
      d.login_refresh_token_in_body = Object.prototype.hasOwnProperty.call(res.json, 'refresh_token');
      d.cookie_visible_to_script = document.cookie.includes('forge_refresh');
      access = res.json.access_token;
      d.access_token_1 = access;
      return `200; refresh_token in body: ${d.login_refresh_token_in_body}`;
    });

    await step('users/me with the login token', async () => {
      const res = await api('GET', '/api/v1/users/me', { token: access });
      d.me1_status = res.status;
      expect(res.status === 200, describe(res));
      d.me1_username = res.json && res.json.username;
      expect(d.me1_username === username, `expected ${username}, got ${res.text}`);
      return `200 ${d.me1_username}`;
    });

    await step('refresh through the cookie', async () => {
      const res = await api('POST', '/api/v1/auth/refresh', { headers: { 'X-Requested-With': 'fetch' } });
      d.refresh_status = res.status;
      expect(res.status === 200, `${describe(res)} (was the __Host-forge_refresh cookie stored and sent?)`);
      expect(res.json && typeof res.json.access_token === 'string', `no access_token: ${describe(res)}`);
      d.refresh_refresh_token_in_body = Object.prototype.hasOwnProperty.call(res.json, 'refresh_token');
      d.access_token_2 = res.json.access_token;
      d.refreshed_token_differs = d.access_token_2 !== access;
      expect(d.refreshed_token_differs, 'the refreshed access token is the same as the first');
      access = d.access_token_2;
      return '200, a new access token';
    });

    await step('users/me with the refreshed token', async () => {
      const res = await api('GET', '/api/v1/users/me', { token: access });
      d.me2_status = res.status;
      expect(res.status === 200, describe(res));
      expect(res.json && res.json.username === username, `expected ${username}, got ${res.text}`);
      return `200 ${res.json.username}`;
    });

    let ticket = null;
    await step('WebSocket ticket', async () => {
      const res = await api('POST', '/api/v1/ws/ticket', { token: access });
      d.ticket_status = res.status;
      expect(res.status === 201, describe(res));
      expect(res.json && typeof res.json.ticket === 'string', `no ticket: ${describe(res)}`);
      d.ticket_expires_in = res.json.expires_in;
      ticket = res.json.ticket;
      return `201, expires in ${res.json.expires_in} s`;
    });

    await step('WebSocket opens and is ready', async () => {
      const url = `${API.replace(/^http/, 'ws')}/api/v1/ws?ticket=${encodeURIComponent(ticket)}`;
      socket = new WebSocket(url);
      socket.addEventListener('message', onMessage);
      socket.addEventListener('open', () => {
        d.ws_opened_at = performance.now();
      });
      socket.addEventListener('close', (ev) => {
        closed = { code: ev.code, reason: ev.reason, wasClean: ev.wasClean, t: performance.now() };
        d.ws_close = closed;
        render();
        for (const resolve of closeWaiters.splice(0)) resolve(closed);
        // Nothing more will arrive: whoever waits for a message learns it now.
        for (const w of waiters.splice(0)) {
          w.reject(new StepFailed(`no ${w.what}: the socket closed with ${ev.code} ${ev.reason}`));
        }
      });
      const ready = await nextMessage('`ready` message', (m) => m.type === 'ready', 10000);
      d.ws_ready = true;
      return `ready ${JSON.stringify(ready.data)}`;
    });

    await step('ping gets pong', async () => {
      const sent = performance.now();
      socket.send(JSON.stringify({ type: 'ping' }));
      const pong = await nextMessage('`pong` message', (m) => m.type === 'pong' && m.t >= sent, 5000);
      d.ws_pong = true;
      return `pong after ${Math.round(pong.t - sent)} ms`;
    });

    await step('create projects', async () => {
      d.project_ids = [];
      for (const name of ['Alpha', 'Beta', 'Gamma']) {
        const res = await api('POST', '/api/v1/projects', { token: access, body: { name: `${name} ${suffix}` } });
        expect(res.status === 201, `${name}: ${describe(res)}`);
        d.project_ids.push(res.json && res.json.id);
      }
      return `${d.project_ids.length} created`;
    });

    await step('export runs to completion', async () => {
      const res = await api('POST', '/api/v1/exports', { token: access, body: { resource: 'projects', format: 'csv' } });
      d.export_status = res.status;
      d.export_requested_at = res.at;
      expect(res.status === 202, describe(res));
      const id = res.json && res.json.id;
      expect(typeof id === 'string', `no export id: ${describe(res)}`);
      d.export_id = id;
      const ofThis = (m) => m.data && m.data.id === id;
      const end = await nextMessage(
        '`export.completed` event',
        (m) => ofThis(m) && (m.type === 'export.completed' || m.type === 'export.failed'),
        45000,
      );
      d.export_ms = Math.round(end.t - res.at);
      expect(end.type === 'export.completed', `the export ended with ${end.raw}`);
      const events = results.messages.filter((m) => ofThis(m) && m.type && m.type.startsWith('export.'));
      d.export_events = events.map((m) => ({ type: m.type, data: m.data, t: m.t }));
      const progress = events.filter((m) => m.type === 'export.progress').length;
      return `${progress} progress event(s), then completed (${JSON.stringify(end.data)})`;
    });

    await step('logout closes the socket', async () => {
      expect(!closed, `the socket closed before logout: ${JSON.stringify(closed)}`);
      // The socket turns CLOSING when the server's close frame arrives, and fires `close` only
      // once the TCP connection is gone too: both moments are recorded.
      let closingAt = null;
      const watch = setInterval(() => {
        if (closingAt === null && socket.readyState >= WebSocket.CLOSING) closingAt = performance.now();
      }, 2);
      let res;
      try {
        res = await api('POST', '/api/v1/auth/logout', { token: access });
        d.logout_status = res.status;
        d.logout_response_at = res.at;
        expect(res.status === 204, describe(res));
        const close = await socketClosed(5000);
        expect(close, 'the socket was still open 5000 ms after the logout response');
      } finally {
        clearInterval(watch);
      }
      const close = closed;
      if (closingAt !== null) d.closing_after_logout_ms = Math.round(Math.min(closingAt, close.t) - res.at);
      d.close_after_logout_ms = Math.round(close.t - res.at);
      expect(close.code === 4001, `closed with ${close.code} ${close.reason}, not 4001`);
      return (
        `close frame ${d.closing_after_logout_ms} ms, close event (${close.code} ${close.reason}) ` +
        `${d.close_after_logout_ms} ms after the logout response`
      );
    });

    await step('refresh after logout is refused', async () => {
      const res = await api('POST', '/api/v1/auth/refresh', { headers: { 'X-Requested-With': 'fetch' } });
      d.refresh_after_logout_status = res.status;
      expect(res.status === 401, describe(res));
      return '401';
    });
  }

  render();
  flow()
    .then(() => {
      results.ok = true;
    })
    .catch((e) => {
      results.ok = false;
      results.error = e instanceof StepFailed ? e.message : `${e && e.name}: ${e && e.message}`;
    })
    .finally(() => {
      results.done = true;
      if (socket && socket.readyState <= 1) socket.close(1000, 'done');
      render();
    });
})();
