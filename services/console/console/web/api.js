// The console API client: every request carries the bearer token of the
// session (sessionStorage, so it ends with the tab); errors are the API's
// RFC 9457 problem documents.

const TOKEN = 'c981.token';
const DEMO = 'c981.demo';

export const session = {
  token() { return sessionStorage.getItem(TOKEN) || ''; },
  demo() { return sessionStorage.getItem(DEMO) === '1'; },
  signedIn() { return this.token() !== '' || this.demo(); },
  signIn(token) { sessionStorage.setItem(TOKEN, token); sessionStorage.removeItem(DEMO); },
  useDemo() { sessionStorage.removeItem(TOKEN); sessionStorage.setItem(DEMO, '1'); },
  signOut() { sessionStorage.removeItem(TOKEN); sessionStorage.removeItem(DEMO); },
};

// APIError is a failed request: status and the problem document (if any).
export class APIError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

let unauthorized = () => {};

// onUnauthorized sets what happens when the API answers 401.
export function onUnauthorized(fn) { unauthorized = fn; }

function headers(extra) {
  const hd = {Accept: 'application/json', ...extra};
  const t = session.token();
  if (t) hd.Authorization = `Bearer ${t}`;
  return hd;
}

async function fail(res) {
  let problem = null;
  try { problem = await res.json(); } catch { /* not JSON */ }
  if (res.status === 401) unauthorized();
  return new APIError(res.status, problem);
}

// api performs one request and returns the decoded JSON (or text).
export async function api(path, {method = 'GET', body, accept} = {}) {
  const opts = {method, cache: 'no-store', headers: headers(body === undefined ? {} : {'Content-Type': 'application/json'})};
  if (accept) opts.headers.Accept = accept;
  if (body !== undefined) opts.body = JSON.stringify(body);
  const res = await fetch(path, opts);
  if (!res.ok) throw await fail(res);
  if (res.status === 204) return null;
  const ct = res.headers.get('Content-Type') || '';
  return ct.includes('json') ? res.json() : res.text();
}

// download fetches path with the token and saves the body as filename.
export async function download(path, filename) {
  const res = await fetch(path, {cache: 'no-store', headers: headers({Accept: '*/*'})});
  if (!res.ok) throw await fail(res);
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// explain turns an error into a sentence for the status bar.
export function explain(err, what) {
  if (!(err instanceof APIError)) return `${what}: ${err.message || err}`;
  switch (err.status) {
    case 409: return `${what}: changed by someone else, reload`;
    case 403: return `${what}: your roles do not allow this`;
    case 404: return `${what}: not found (or not available on this console)`;
    case 405: case 501: return `${what}: not supported by this console`;
    case 503: return `${what}: unavailable — ${err.message}`;
    default: return `${what}: ${err.message}`;
  }
}

// Live updates: GET /api/stream read with fetch() (EventSource cannot send
// the Authorization header). handlers maps event names to functions of the
// parsed data; onState gets 'live', 'offline' or 'unavailable'.
export function stream(handlers, onState) {
  let ctrl = null;
  let stopped = false;
  let retry = 3000;

  async function connect() {
    ctrl = new AbortController();
    try {
      const res = await fetch('/api/stream', {headers: headers({Accept: 'text/event-stream'}), cache: 'no-store', signal: ctrl.signal});
      if (!res.ok) {
        if (res.status === 401) unauthorized();
        onState(res.status === 503 || res.status === 404 ? 'unavailable' : 'offline');
        return res.status === 503 || res.status === 404 ? 30000 : retry;
      }
      onState('live');
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const {value, done} = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          dispatch(block);
        }
      }
    } catch (err) {
      if (stopped) return 0;
    }
    onState('offline');
    return retry;
  }

  function dispatch(block) {
    let name = 'message';
    const data = [];
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const j = line.indexOf(':');
      const field = j < 0 ? line : line.slice(0, j);
      const val = j < 0 ? '' : line.slice(j + 1).replace(/^ /, '');
      if (field === 'event') name = val;
      else if (field === 'data') data.push(val);
      else if (field === 'retry' && /^\d+$/.test(val)) retry = Number(val);
    }
    if (data.length === 0 || !handlers[name]) return;
    try { handlers[name](JSON.parse(data.join('\n'))); } catch (err) { console.error('live update', name, err); }
  }

  (async () => {
    while (!stopped) {
      const wait = await connect();
      if (stopped) break;
      await new Promise((r) => setTimeout(r, wait));
    }
  })();

  return {close() { stopped = true; if (ctrl) ctrl.abort(); }};
}
