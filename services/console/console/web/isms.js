// The ISMS panel of the incident page: classification, NIS2 significance
// and submission times, impact and lessons learned (PATCH
// /api/incidents/{id}/isms, ISMS owners and admins), with the NIS2 clocks.
import {api, explain} from './api.js';
import {h, fmtTime, flash} from './dom.js';

const CLASSES = ['event', 'incident'];
const CATEGORIES = ['malware', 'ransomware', 'unauthorized_access', 'unauthorized_change', 'denial_of_service',
  'availability', 'safety', 'data_breach', 'misuse', 'reconnaissance', 'physical', 'other'];
const IMPACTS = ['confidentiality', 'integrity', 'availability', 'safety', 'operations'];
const LEVELS = ['none', 'low', 'medium', 'high'];
const TIMES = [['became_aware_at', 'Became aware'], ['early_warning_at', 'Early warning sent'], ['notification_at', 'Notification sent'], ['final_report_at', 'Final report sent']];

const HOUR = 3600e3;

// clocks are the NIS2 Article 23 deadlines of a significant incident:
// early warning 24 h and notification 72 h after awareness, the final
// report one month after the notification.
export function clocks(isms, now = new Date()) {
  if (!isms || !isms.significant || !isms.became_aware_at) return [];
  const aware = new Date(isms.became_aware_at);
  const out = [
    {name: 'Early warning', due: new Date(aware.getTime() + 24 * HOUR), at: isms.early_warning_at},
    {name: 'Notification', due: new Date(aware.getTime() + 72 * HOUR), at: isms.notification_at},
  ];
  let finalDue = null;
  if (isms.notification_at) {
    finalDue = new Date(isms.notification_at);
    finalDue.setUTCMonth(finalDue.getUTCMonth() + 1);
  }
  out.push({name: 'Final report', due: finalDue, at: isms.final_report_at});
  for (const c of out) {
    c.overdue = !c.at && c.due !== null && c.due < now;
    c.late = c.at && c.due && new Date(c.at) > c.due;
  }
  return out;
}

function select(id, values, cur) {
  const el = h('select', {id}, h('option', {value: ''}, '— not assessed'), values.map((v) => h('option', {value: v}, v.replaceAll('_', ' '))));
  el.value = cur || '';
  return el;
}

// local converts an RFC 3339 time to a datetime-local value (UTC).
function local(t) { return t ? new Date(t).toISOString().slice(0, 16) : ''; }

// ismsPanel renders the panel; saved gets the new triage after a change.
export function ismsPanel(inc, tr, saved) {
  const isms = (tr && tr.isms) || {};
  const cls = select('isms-classification', CLASSES, isms.classification);
  const cat = select('isms-category', CATEGORIES, isms.category);
  const sig = h('input', {type: 'checkbox', id: 'isms-significant'});
  sig.checked = !!isms.significant;
  const times = TIMES.map(([k, label]) => [k, label, h('input', {type: 'datetime-local', id: `isms-${k}`, value: local(isms[k])})]);
  const impact = IMPACTS.map((k) => [k, select(`isms-impact-${k}`, LEVELS, (isms.impact || {})[k])]);
  const lessons = h('textarea', {id: 'isms-lessons', rows: 3, cols: 60, maxlength: 16000}, isms.lessons_learned || '');

  async function save(e) {
    e.preventDefault();
    const body = {version: (tr && tr.version) || 0};
    if (cls.value !== (isms.classification || '')) body.classification = cls.value || null;
    if (cat.value !== (isms.category || '')) body.category = cat.value || null;
    if (sig.checked !== !!isms.significant) body.significant = sig.checked;
    for (const [k, , el] of times) {
      if (el.value !== local(isms[k])) body[k] = el.value ? `${el.value}:00Z` : null;
    }
    const imp = {};
    for (const [k, el] of impact) if (el.value !== ((isms.impact || {})[k] || '')) imp[k] = el.value || null;
    if (Object.keys(imp).length) body.impact = imp;
    if (lessons.value !== (isms.lessons_learned || '')) body.lessons_learned = lessons.value || null;
    if (Object.keys(body).length === 1) { flash('Nothing changed.'); return; }
    try {
      const res = await api(`/api/incidents/${encodeURIComponent(inc.id)}/isms`, {method: 'PATCH', body});
      flash('ISMS record saved.', 'ok');
      saved(res && res.triage ? res.triage : res);
    } catch (err) {
      flash(explain(err, 'Saving the ISMS record'), 'error');
    }
  }

  const cl = clocks(isms);
  return h('form', {class: 'card isms', id: 'isms', onsubmit: save},
    h('p', {}, h('label', {}, 'Classification ', cls), ' ', h('label', {}, 'Category ', cat), ' ',
      h('label', {}, sig, ' NIS2 significant incident')),
    h('p', {class: 'times'}, times.map(([, label, el]) => h('label', {}, `${label} (UTC) `, el))),
    h('p', {class: 'impact'}, 'Impact: ', impact.map(([k, el]) => h('label', {}, `${k} `, el))),
    h('p', {}, h('label', {}, 'Lessons learned', h('br'), lessons)),
    cl.length ? h('table', {class: 'clocks', id: 'isms-clocks'}, h('tbody', {}, cl.map((c) => h('tr', {class: c.overdue ? 'overdue-row' : ''},
      h('td', {}, c.name),
      h('td', {class: c.overdue ? 'overdue' : c.at ? 'done' : ''}, c.due ? `due ${fmtTime(c.due.toISOString())}` : 'due one month after the notification',
        c.at ? ` · sent ${fmtTime(c.at)}${c.late ? ' (late)' : ''}` : '', c.overdue ? h('span', {class: 'flag'}, ' OVERDUE') : '')))))
      : h('p', {class: 'muted'}, 'NIS2 clocks run once the incident is marked significant with the time the entity became aware of it.'),
    h('button', {type: 'submit', id: 'isms-save'}, 'Save ISMS record'));
}
