// The triage queue: incidents of the caller's sites with filters, keyboard
// navigation (j/k, Enter, a, /) and live updates.
import {api, explain} from './api.js';
import {h, replace, fmtTime, badge, flash} from './dom.js';
import {subscribe, onLeave} from './app.js';

const STATUSES = ['new', 'acknowledged', 'investigating', 'contained', 'resolved', 'closed'];
const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'];

// Filters survive navigation to an incident and back.
const state = {site: '', status: '', severity: '', zone: '', assignee: '', q: ''};

// triageOf returns the {version, status, assignee} of a list row.
export function triageOf(inc) {
  const t = inc.triage || {};
  return {version: t.version || 0, status: t.status || inc.status, assignee: t.assignee || ''};
}

export async function queuePage(view) {
  const sites = await api('/api/sites').then((r) => r.sites || []).catch(() => []);
  const siteSel = h('select', {id: 'f-site', name: 'site'}, h('option', {value: ''}, 'all sites'), sites.map((s) => h('option', {value: s.id}, s.id)));
  const statusSel = h('select', {id: 'f-status', name: 'status'}, h('option', {value: ''}, 'any status'), h('option', {value: 'new,acknowledged,investigating,contained'}, 'open'), STATUSES.map((s) => h('option', {value: s}, s)));
  const sevSel = h('select', {id: 'f-severity', name: 'severity'}, h('option', {value: ''}, 'any severity'), SEVERITIES.map((s) => h('option', {value: s}, `≥ ${s}`)));
  const zone = h('input', {id: 'f-zone', name: 'zone', type: 'search', placeholder: 'zone id', size: 16});
  const assignee = h('input', {id: 'f-assignee', name: 'assignee', type: 'search', placeholder: 'assignee', size: 12});
  const text = h('input', {id: 'f-q', name: 'q', type: 'search', placeholder: 'search (press /)', size: 28});
  siteSel.value = state.site; statusSel.value = state.status; sevSel.value = state.severity; zone.value = state.zone; assignee.value = state.assignee; text.value = state.q;
  const tbody = h('tbody', {id: 'queue-rows'});
  const more = h('button', {type: 'button', id: 'more', hidden: true}, 'Load more');
  const count = h('span', {class: 'muted', id: 'queue-count'});
  let rows = []; // incidents shown, in order
  let sel = 0;
  let next = '';

  const form = h('form', {class: 'filters', id: 'filters', onsubmit: (e) => { e.preventDefault(); load(); }},
    siteSel, statusSel, sevSel, zone, assignee, text, h('button', {type: 'submit'}, 'Filter'), count);
  for (const el of [siteSel, statusSel, sevSel]) el.addEventListener('change', () => load());

  replace(view,
    h('h1', {}, 'Triage queue'),
    form,
    h('table', {class: 'queue', id: 'queue'},
      h('thead', {}, h('tr', {}, ['Severity', 'Risk', 'Incident', 'Site', 'Zones', 'Status', 'Assignee', 'Last seen'].map((c) => h('th', {}, c)))),
      tbody),
    more,
    h('p', {class: 'keys muted'}, 'Keys: j/k move · Enter open · a acknowledge · / filter'));

  function query() {
    const p = new URLSearchParams();
    state.site = siteSel.value; state.status = statusSel.value; state.severity = sevSel.value;
    state.zone = zone.value.trim(); state.assignee = assignee.value.trim(); state.q = text.value.trim();
    for (const k of ['site', 'status', 'severity', 'zone', 'assignee', 'q']) if (state[k]) p.set(k, state[k]);
    return p;
  }

  function row(inc, i) {
    const t = triageOf(inc);
    const risk = inc.risk ?? inc.target?.criticality ?? '';
    return h('tr', {class: i === sel ? 'sel' : '', 'aria-selected': i === sel ? 'true' : 'false', dataset: {id: inc.id, status: t.status}, onclick: () => { sel = i; paint(); }, ondblclick: () => open(inc)},
      h('td', {}, badge('sev', inc.severity)),
      h('td', {class: 'risk'}, String(risk), inc.target?.safety ? h('span', {class: 'safety', title: 'safety system involved'}, ' ⚠ SIS') : ''),
      h('td', {}, h('a', {href: `#/incident/${encodeURIComponent(inc.id)}`, class: 'title'}, inc.title || inc.key || inc.id)),
      h('td', {}, inc.site),
      h('td', {class: 'zones'}, (inc.zones || []).map((z) => z.replace(`${inc.site}/`, '')).join(', ')),
      h('td', {class: 'status'}, badge('st', t.status)),
      h('td', {class: 'assignee'}, t.assignee),
      h('td', {class: 'time'}, fmtTime(inc.last_seen)));
  }

  function paint() {
    sel = Math.max(0, Math.min(sel, rows.length - 1));
    replace(tbody, rows.length ? rows.map(row) : h('tr', {}, h('td', {colspan: 8, class: 'muted'}, 'No incidents match.')));
    count.textContent = `${rows.length} incident${rows.length === 1 ? '' : 's'}${next ? '+' : ''}`;
    more.hidden = !next;
    const cur = tbody.children[sel];
    if (cur && rows.length) cur.scrollIntoView({block: 'nearest'});
  }

  async function load(append = false) {
    const p = query();
    if (append && next) p.set('cursor', next);
    try {
      const r = await api(`/api/incidents?${p}`);
      rows = append ? rows.concat(r.incidents || []) : (r.incidents || []);
      next = r.next_cursor || '';
      if (!append) sel = 0;
      paint();
    } catch (err) {
      flash(explain(err, 'Loading incidents'), 'error');
    }
  }
  more.addEventListener('click', () => load(true));

  function open(inc) { location.hash = `#/incident/${encodeURIComponent(inc.id)}`; }

  async function acknowledge(inc) {
    const t = triageOf(inc);
    if (t.status !== 'new') { flash(`Already ${t.status}.`); return; }
    try {
      const res = await api(`/api/incidents/${encodeURIComponent(inc.id)}`, {method: 'PATCH', body: {version: t.version, status: 'acknowledged'}});
      applyTriage(res && res.triage ? res.triage : res);
      flash('Acknowledged.', 'ok');
    } catch (err) {
      flash(explain(err, 'Acknowledge'), 'error');
    }
  }

  // applyTriage updates the row of a triage record (event.Triage).
  function applyTriage(tr) {
    if (!tr || !tr.incident_id) return;
    const inc = rows.find((x) => x.id === tr.incident_id);
    if (!inc) return;
    if ((inc.triage?.version || 0) > tr.version) return;
    inc.triage = {version: tr.version, status: tr.status, assignee: tr.assignee || ''};
    inc.status = tr.status;
    paint();
    const el = tbody.querySelector(`tr[data-id="${CSS.escape(inc.id)}"]`);
    if (el) el.classList.add('flash-row');
  }

  let reload = null;
  subscribe('triage', applyTriage);
  subscribe('incident', (inc) => {
    const cur = rows.find((x) => x.id === inc.id);
    if (cur && inc.version >= cur.version) {
      Object.assign(cur, {version: inc.version, title: inc.title, severity: inc.severity, last_seen: inc.last_seen, zones: inc.zones, risk: inc.risk});
      paint();
      return;
    }
    // A new incident: reload the first page under the current filters.
    clearTimeout(reload);
    reload = setTimeout(() => load(), 300);
  });
  onLeave(() => clearTimeout(reload));

  function onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const inField = ['INPUT', 'SELECT', 'TEXTAREA'].includes(document.activeElement?.tagName);
    if (inField) {
      if (e.key === 'Escape') document.activeElement.blur();
      return;
    }
    switch (e.key) {
      case 'j': sel++; paint(); break;
      case 'k': sel--; paint(); break;
      case 'Enter': if (rows[sel]) open(rows[sel]); break;
      case 'a': if (rows[sel]) acknowledge(rows[sel]); break;
      case '/': e.preventDefault(); text.focus(); break;
      default: return;
    }
    e.preventDefault();
  }
  document.addEventListener('keydown', onKey);
  onLeave(() => document.removeEventListener('keydown', onKey));
  await load();
}
