// The incident page: triage (status, assignee, notes), the zone/conduit
// picture, the timeline of alerts and events, and the response plans.
import {api, explain, download} from './api.js';
import {h, s, replace, fmtTime, badge, flash} from './dom.js';
import {subscribe} from './app.js';
import {stepRow} from './plan.js';
import {ismsPanel} from './isms.js';

const STATUSES = ['new', 'acknowledged', 'investigating', 'contained', 'resolved', 'closed'];

// nextStatuses mirrors event.CheckTransition: forward one or more steps, or
// back to investigating from contained, resolved or closed.
function nextStatuses(cur) {
  const i = STATUSES.indexOf(cur);
  const out = STATUSES.filter((_, j) => j > i);
  if (i >= STATUSES.indexOf('contained')) out.unshift('investigating');
  return out;
}

// loadApprovals adds the approval requests of the incident's site (A's
// GET /api/approvals) to d, keyed by plan and step; a console without the
// route leaves the plan with the engine's decisions only.
async function loadApprovals(d) {
  try {
    const r = await api(`/api/approvals?site=${encodeURIComponent(d.incident.site)}`);
    d.approvals = {};
    for (const q of r.requests || []) {
      if (q.incident_id === d.incident.id) d.approvals[`${q.plan_id}/${q.step.id}`] = q;
    }
  } catch {
    d.approvals = null; // unknown: the engine's decisions only
  }
}

export async function incidentPage(view, id) {
  const d = await api(`/api/incidents/${encodeURIComponent(id)}`);
  await loadApprovals(d);
  render(view, d);
  subscribe('triage', (tr) => {
    if (tr.incident_id !== id) return;
    const cur = d.triage || {version: 0};
    if (tr.version <= (cur.version || 0)) return;
    d.triage = tr;
    d.incident.status = tr.status;
    render(view, d);
    flash(`Updated by ${tr.updated_by || 'someone'}: ${tr.status}${tr.assignee ? `, assigned to ${tr.assignee}` : ''}.`);
  });
  subscribe('incident', (inc) => {
    if (inc.id === id && inc.version > d.incident.version) {
      api(`/api/incidents/${encodeURIComponent(id)}`).then((nd) => { Object.assign(d, nd); render(view, d); }).catch(() => {});
    }
  });
  subscribe('plan', (p) => {
    if (p.incident_id === id) api(`/api/incidents/${encodeURIComponent(id)}`).then(async (nd) => { Object.assign(d, nd); await loadApprovals(d); render(view, d); }).catch(() => {});
  });
}

// effective is the incident's status: the triage status once triaged
// (version > 0), else the correlator's.
function effective(d) {
  const tr = d.triage || {};
  return tr.version > 0 ? tr.status : d.incident.status;
}

function render(view, d) {
  const inc = d.incident;
  const tr = d.triage || {version: 0};
  replace(view,
    h('p', {}, h('a', {href: '#/queue'}, '← queue')),
    h('h1', {}, badge('sev', inc.severity), ' ', inc.title),
    h('dl', {class: 'facts'},
      fact('Incident', inc.id), fact('Site', inc.site), fact('Risk', `${inc.risk} / 100`),
      fact('Source', endpointLabel(inc.source)),
      fact('Status', badge('st', effective(d))), fact('Assignee', tr.assignee || '—'),
      fact('Triage version', String(tr.version || 0)),
      fact('First / last seen', `${fmtTime(inc.first_seen)} – ${fmtTime(inc.last_seen)}`),
      fact('ATT&CK', (inc.techniques || []).join(', ') || '—'),
      fact('Maintenance window', inc.maint_active ? 'open on the target' : 'none')),
    triageBox(d),
    h('h2', {}, 'Zones and conduits'), zonePicture(d),
    h('h2', {}, 'Timeline'), timeline(d),
    h('h2', {}, 'Response plans'), plans(d),
    h('h2', {}, 'Notes'), notes(d),
    h('h2', {}, 'ISMS record and NIS2'), ismsPanel(inc, d.triage, (ntr) => {
      if (ntr && ntr.version) d.triage = ntr;
      render(document.getElementById('page-incident'), d);
    }),
    h('h2', {}, 'Report'), reportButtons(inc));
}

function fact(k, v) { return [h('dt', {}, k), h('dd', {}, v)]; }

// endpointLabel names an endpoint by asset (or IP) and zone; '—' when the
// incident has no known source.
function endpointLabel(ep) {
  const who = ep?.asset_id || ep?.ip;
  if (!who) return '—';
  return ep.zone ? `${who} (${ep.zone})` : who;
}

function triageBox(d) {
  const inc = d.incident;
  const tr = d.triage || {version: 0};
  const cur = effective(d);
  const status = h('select', {id: 'status', name: 'status'}, h('option', {value: ''}, `${cur} (unchanged)`), nextStatuses(cur).map((st) => h('option', {value: st}, st)));
  const assignee = h('input', {id: 'assignee', name: 'assignee', value: tr.assignee || '', placeholder: 'user', size: 16});
  async function save(e) {
    e.preventDefault();
    const body = {version: tr.version || 0};
    if (status.value) body.status = status.value;
    if (assignee.value.trim() !== (tr.assignee || '')) body.assignee = assignee.value.trim();
    if (!body.status && body.assignee === undefined) { flash('Nothing changed.'); return; }
    try {
      const res = await api(`/api/incidents/${encodeURIComponent(inc.id)}`, {method: 'PATCH', body});
      const ntr = res && res.triage ? res.triage : res;
      if (ntr && ntr.version) { d.triage = ntr; d.incident.status = ntr.status; }
      render(document.getElementById('page-incident'), d);
      flash('Saved.', 'ok');
    } catch (err) {
      flash(explain(err, 'Saving'), 'error');
      if (err.status === 409) document.getElementById('triage')?.classList.add('stale');
    }
  }
  return h('form', {class: 'card triage', id: 'triage', onsubmit: save},
    h('label', {}, 'Status ', status), ' ',
    h('label', {}, 'Assignee ', assignee), ' ',
    h('button', {type: 'submit', id: 'save'}, 'Save'),
    h('button', {type: 'button', id: 'reload', onclick: () => window.dispatchEvent(new HashChangeEvent('hashchange'))}, 'Reload'));
}

// flowOf picks the event that best shows the conduit: a violation first,
// then any cross-zone flow.
function flowOf(d) {
  const evs = d.events || [];
  return evs.find((e) => e.flow && e.flow.cross_zone && !e.flow.allowed) ||
    evs.find((e) => e.flow && e.flow.cross_zone) || null;
}

function zonePicture(d) {
  const inc = d.incident;
  const ev = flowOf(d);
  const src = ev ? ev.src : inc.source;
  const dst = ev ? ev.dst : inc.target;
  if (!src?.zone && !dst?.zone) return h('p', {class: 'muted'}, 'No zone context.');
  const violation = ev && ev.flow && !ev.flow.allowed ? (ev.flow.violation || 'no conduit allows this flow') : '';
  const conduit = ev?.flow?.conduit || (violation ? 'no allowed conduit' : '—');
  const W = 720, H = 170;
  const box = (x, ep, label) => s('g', {class: `zone ${ep?.safety ? 'safety' : ''}`},
    s('rect', {x, y: 30, width: 220, height: 110, rx: 8}),
    s('text', {x: x + 110, y: 54, 'text-anchor': 'middle', class: 'zname'}, (ep?.zone || 'unknown zone')),
    s('text', {x: x + 110, y: 76, 'text-anchor': 'middle'}, `${ep?.zone_kind || ''} · Purdue ${ep?.purdue ?? '?'} · SL-T ${ep?.sl_t ?? "?"}`),
    s('text', {x: x + 110, y: 98, 'text-anchor': 'middle'}, `${ep?.asset_id || ep?.ip || ''}`),
    s('text', {x: x + 110, y: 120, 'text-anchor': 'middle'}, `${ep?.role || ''}${ep?.safety ? ' · SAFETY' : ''}${ep?.criticality ? ` · ${ep.criticality}` : ''}`),
    s('text', {x: x + 110, y: 20, 'text-anchor': 'middle', class: 'cap'}, label));
  const svg = s('svg', {viewBox: `0 0 ${W} ${H}`, class: `zonepic ${violation ? 'violated' : ''}`, role: 'img', 'aria-label': `${src?.zone} to ${dst?.zone} via ${conduit}`},
    s('defs', {}, s('marker', {id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 8, markerHeight: 8, orient: 'auto-start-reverse'}, s('path', {d: 'M 0 0 L 10 5 L 0 10 z'}))),
    box(10, src, 'source'),
    s('line', {x1: 235, y1: 85, x2: 485, y2: 85, class: 'conduit', 'marker-end': 'url(#arrow)'}),
    s('text', {x: 360, y: 75, 'text-anchor': 'middle', class: 'conduit-label'}, `conduit: ${conduit}`),
    s('text', {x: 360, y: 105, 'text-anchor': 'middle', class: 'conduit-label'}, ev ? `${ev.app_proto || ev.proto || ''} ${ev.operation || ''}`.trim() : ''),
    box(490, dst, 'target'));
  return h('div', {class: 'zones-box', id: 'zonepic'}, svg,
    violation ? h('p', {class: 'violation', id: 'violation'}, '⚠ Violation: ', violation) : h('p', {class: 'muted'}, 'The flow is allowed by the conduit.'),
    h('p', {class: 'muted'}, 'Affected zones: ', (inc.zones || []).join(', ') || '—', ' · assets: ', (inc.assets || []).join(', ') || '—'));
}

function timeline(d) {
  const items = [];
  for (const a of d.alerts || []) items.push({t: a.time, kind: 'alert', el: [badge('sev', a.severity), ' ', h('strong', {}, a.rule_title || a.rule_id), ' — ', a.summary]});
  for (const e of d.events || []) {
    const flow = e.flow && e.flow.cross_zone ? (e.flow.allowed ? ` via ${e.flow.conduit || 'conduit'}` : ' — VIOLATION') : '';
    items.push({t: e.time, kind: 'event', bad: e.flow && e.flow.cross_zone && !e.flow.allowed,
      el: [h('code', {}, e.host || e.peer || ''), ' ', e.operation || e.action || '', ' ', `${e.src?.asset_id || e.src_ip || ''} → ${e.dst?.asset_id || e.dst_ip || ''}`, flow, e.message ? ` · ${e.message}` : '']});
  }
  items.sort((x, y) => (x.t < y.t ? -1 : x.t > y.t ? 1 : 0));
  const list = h('ol', {class: 'timeline', id: 'timeline'}, items.map((it) => h('li', {class: `${it.kind}${it.bad ? ' bad' : ''}`}, h('time', {}, fmtTime(it.t)), ' ', h('span', {class: 'kind'}, it.kind), ' ', it.el)));
  const extra = [];
  if ((d.missing_event_ids || []).length) extra.push(h('p', {class: 'muted'}, `${d.missing_event_ids.length} contributing event(s) are not stored (retention or still in flight).`));
  if (d.alerts_truncated || d.events_truncated) extra.push(h('p', {class: 'muted'}, 'The timeline is truncated.'));
  return [items.length ? list : h('p', {class: 'muted'}, 'No alerts or events.'), extra];
}

function plans(d) {
  const ps = d.plans || [];
  if (!ps.length) return h('p', {class: 'muted'}, 'No response plan.');
  return ps.map((p) => h('div', {class: 'plan card'},
    h('h3', {}, p.playbook_title || p.playbook_id, h('span', {class: 'muted'}, ` · for incident version ${p.incident_version} · ${fmtTime(p.created_at)}`)),
    h('table', {class: 'steps'},
      h('thead', {}, h('tr', {}, ['#', 'Step', 'Audience', 'Class', 'Decision', 'State', 'Reason', ''].map((c) => h('th', {}, c)))),
      h('tbody', {}, p.steps.map((st) => stepRow(d.incident, p, st, d.approvals && (d.approvals[`${p.id}/${st.id}`] || 'none'), () => loadApprovals(d).then(() => render(document.getElementById('page-incident'), d))))))));
}

function notes(d) {
  const tr = d.triage || {};
  const list = (tr.notes || []).map((n) => h('li', {}, h('time', {}, fmtTime(n.at)), ' ', h('strong', {}, n.author), n.role ? ` (${n.role})` : '', ': ', n.text));
  const text = h('textarea', {id: 'note', rows: 3, cols: 60, maxlength: 4000, placeholder: 'Add a note'});
  async function add(e) {
    e.preventDefault();
    if (!text.value.trim()) return;
    try {
      const res = await api(`/api/incidents/${encodeURIComponent(d.incident.id)}/notes`, {method: 'POST', body: {version: tr.version || 0, text: text.value.trim()}});
      const ntr = res && res.triage ? res.triage : res;
      if (ntr && ntr.version) d.triage = ntr;
      render(document.getElementById('page-incident'), d);
      flash('Note added.', 'ok');
    } catch (err) {
      flash(explain(err, 'Adding the note'), 'error');
    }
  }
  const history = (tr.history || []).map((c) => h('li', {}, h('time', {}, fmtTime(c.at)), ` ${c.actor} (${c.role}) ${c.field}: ${c.from || '—'} → ${c.to || '—'}`));
  return [h('ul', {class: 'notes', id: 'notes'}, list.length ? list : h('li', {class: 'muted'}, 'No notes yet.')),
    h('form', {onsubmit: add}, text, h('br'), h('button', {type: 'submit', id: 'add-note'}, 'Add note')),
    history.length ? h('details', {}, h('summary', {}, `History (${history.length} changes)`), h('ul', {class: 'history'}, history)) : ''];
}

function reportButtons(inc) {
  const dl = (format, ext) => async () => {
    try {
      await download(`/api/incidents/${encodeURIComponent(inc.id)}/report?format=${format}`, `incident-${inc.id}.${ext}`);
      flash('Report downloaded.', 'ok');
    } catch (err) {
      flash(explain(err, 'Report'), 'error');
    }
  };
  return h('p', {}, h('button', {type: 'button', id: 'report-md', onclick: dl('markdown', 'md')}, 'Download report (Markdown)'), ' ',
    h('button', {type: 'button', id: 'report-json', onclick: dl('json', 'json')}, 'Download report (JSON)'));
}
