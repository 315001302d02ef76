// The C-981 console web UI: login, the hash router and the live update
// stream shared by the pages.
import {api, session, stream, onUnauthorized, explain} from './api.js';
import {h, replace, flash} from './dom.js';
import {queuePage} from './queue.js';
import {incidentPage} from './incident.js';
import {operatorPage} from './operator.js';
import {reportsPage} from './reports.js';

const main = document.getElementById('main');
const live = document.getElementById('live');

// Live update listeners of the current page: kind -> Set of functions.
const listeners = {incident: new Set(), plan: new Set(), triage: new Set()};
let liveStream = null;

// subscribe registers fn for live updates of kind until the page changes.
export function subscribe(kind, fn) {
  listeners[kind].add(fn);
  cleanups.push(() => listeners[kind].delete(fn));
}

let cleanups = [];

// onLeave registers fn to run when the user leaves the current page.
export function onLeave(fn) { cleanups.push(fn); }

function startLive() {
  if (liveStream) return;
  const fan = (kind) => (data) => { for (const fn of listeners[kind]) fn(data); };
  liveStream = stream({incident: fan('incident'), plan: fan('plan'), triage: fan('triage')}, (state) => {
    live.hidden = false;
    live.textContent = state;
    live.className = `live ${state}`;
    document.body.dataset.live = state;
  });
}

function stopLive() {
  if (liveStream) liveStream.close();
  liveStream = null;
  live.hidden = true;
}

function loginPage() {
  const input = h('input', {id: 'token', type: 'password', autocomplete: 'off', placeholder: 'paste your bearer token', size: 48});
  const error = h('p', {class: 'error', id: 'login-error'});
  async function tryLogin(useDemo) {
    if (useDemo) session.useDemo();
    else if (input.value.trim() === '') { error.textContent = 'Paste a token, or use demo mode.'; return; }
    else session.signIn(input.value.trim());
    try {
      await api('/api/sites');
      route();
    } catch (err) {
      session.signOut();
      error.textContent = err.status === 401 ? (useDemo ? 'This console is not in demo mode: a token is required.' : 'The token was not accepted.') : explain(err, 'Sign-in failed');
    }
  }
  const form = h('form', {id: 'login', class: 'card login', onsubmit: (e) => { e.preventDefault(); tryLogin(false); }},
    h('h1', {}, 'Sign in'),
    h('p', {}, 'Paste the bearer token you were given. It is kept in this tab only (session storage).'),
    h('label', {for: 'token'}, 'Token'), ' ', input, ' ',
    h('button', {type: 'submit', id: 'signin'}, 'Sign in'),
    h('p', {}, 'Or, on a local demo console: ', h('button', {type: 'button', id: 'demo', onclick: () => tryLogin(true)}, 'Use demo mode (read-only)')),
    error);
  replace(main, form);
  input.focus();
}

function setHeader(page) {
  document.getElementById('nav').hidden = false;
  document.getElementById('logout').hidden = false;
  document.getElementById('who').textContent = session.demo() ? 'demo (read-only)' : 'signed in';
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === page);
}

// route renders the page of location.hash.
export async function route() {
  for (const fn of cleanups.splice(0)) fn();
  if (!session.signedIn()) {
    stopLive();
    document.getElementById('nav').hidden = true;
    document.getElementById('logout').hidden = true;
    document.getElementById('who').textContent = '';
    loginPage();
    return;
  }
  startLive();
  const [, page = 'queue', arg = ''] = location.hash.split('/');
  setHeader(page);
  const view = h('section', {class: 'page', id: `page-${page}`});
  replace(main, view);
  try {
    switch (page) {
      case 'incident': await incidentPage(view, decodeURIComponent(arg)); break;
      case 'operator': await operatorPage(view, decodeURIComponent(arg)); break;
      case 'reports': await reportsPage(view); break;
      default: await queuePage(view);
    }
  } catch (err) {
    view.appendChild(h('p', {class: 'error'}, explain(err, 'Loading failed')));
  }
}

onUnauthorized(() => {
  if (!session.signedIn()) return;
  session.signOut();
  flash('Your session was not accepted (401); sign in again.', 'error');
  route();
});

document.getElementById('logout').addEventListener('click', () => {
  session.signOut();
  location.hash = '#/queue';
  route();
});
window.addEventListener('hashchange', route);
route();
