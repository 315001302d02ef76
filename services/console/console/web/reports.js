// The reports page: NIS2 clocks (overdue highlighted), the period summary
// of a site and incident report downloads.
import {api, explain, download} from './api.js';
import {h, replace, fmtTime, badge, flash} from './dom.js';

const SUBMISSIONS = [['early_warning', 'Early warning (24 h)'], ['notification', 'Notification (72 h)'], ['final_report', 'Final report (1 month)']];

export async function reportsPage(view) {
  const clocks = h('div', {id: 'nis2'});
  const summary = h('div', {id: 'summary'});
  let sites = (await api('/api/sites').catch(() => ({sites: []}))).sites.map((x) => x.id);
  if (!sites.length) {
    const r = await api('/api/incidents?limit=200').catch(() => ({incidents: []}));
    sites = [...new Set((r.incidents || []).map((i) => i.site))].sort();
  }
  const siteSel = h('select', {id: 'sum-site'}, sites.map((x) => h('option', {value: x}, x)));
  const from = h('input', {id: 'sum-from', type: 'date'});
  const to = h('input', {id: 'sum-to', type: 'date'});
  const now = new Date();
  to.value = now.toISOString().slice(0, 10);
  from.value = new Date(now - 30 * 864e5).toISOString().slice(0, 10);
  const incID = h('input', {id: 'report-id', size: 40, placeholder: 'incident id'});
  const fmt = h('select', {id: 'report-format'}, h('option', {value: 'markdown'}, 'Markdown'), h('option', {value: 'json'}, 'JSON'));
  replace(view, h('h1', {}, 'Reports'),
    h('h2', {}, 'NIS2 clocks'), clocks,
    h('h2', {}, 'Period summary'),
    h('form', {class: 'filters', onsubmit: (e) => { e.preventDefault(); loadSummary(); }},
      h('label', {}, 'Site ', siteSel), h('label', {}, 'from ', from), h('label', {}, 'to ', to), h('button', {type: 'submit'}, 'Show')),
    summary,
    h('h2', {}, 'Incident report'),
    h('form', {class: 'filters', id: 'report-form', onsubmit: async (e) => {
      e.preventDefault();
      const id = incID.value.trim();
      if (!id) return;
      try {
        await download(`/api/incidents/${encodeURIComponent(id)}/report?format=${fmt.value}`, `incident-${id}-report.${fmt.value === 'json' ? 'json' : 'md'}`);
        flash('Report downloaded.', 'ok');
      } catch (err) { flash(explain(err, 'Report'), 'error'); }
    }}, incID, fmt, h('button', {type: 'submit', id: 'report-download'}, 'Download')));

  async function loadClocks() {
    try {
      const r = await api('/api/reports/nis2');
      const items = r.incidents || [];
      replace(clocks, items.length ? [
        r.overdue ? h('p', {class: 'violation', id: 'nis2-overdue'}, `${r.overdue} NIS2 submission${r.overdue === 1 ? ' is' : 's are'} overdue.`) : '',
        h('table', {class: 'clocks'},
          h('thead', {}, h('tr', {}, ['Incident', 'Site', 'Status', 'Aware since', ...SUBMISSIONS.map(([, t]) => t)].map((c) => h('th', {}, c)))),
          h('tbody', {}, items.map((c) => h('tr', {class: c.overdue ? 'overdue-row' : '', dataset: {id: c.incident_id}},
            h('td', {}, badge('sev', c.severity), ' ', h('a', {href: `#/incident/${encodeURIComponent(c.incident_id)}`}, c.title || c.incident_id)),
            h('td', {}, c.site),
            h('td', {}, badge('st', c.status)),
            h('td', {}, fmtTime(c.became_aware_at)),
            SUBMISSIONS.map(([name]) => clock((c.clocks || []).find((k) => k.submission === name)))))))]
        : h('p', {class: 'muted'}, 'No significant incidents with NIS2 clocks.'));
    } catch (err) {
      replace(clocks, h('p', {class: 'muted'}, explain(err, 'NIS2 clocks')));
    }
  }

  async function loadSummary() {
    if (!siteSel.value) { replace(summary, h('p', {class: 'muted'}, 'No site.')); return; }
    const p = new URLSearchParams({site: siteSel.value, from: `${from.value}T00:00:00Z`, to: `${to.value}T23:59:59Z`});
    try {
      const x = await api(`/api/reports/summary?${p}`);
      const dur = (d) => (d && d.mean_seconds != null ? `${hours(d.mean_seconds)} mean, ${hours(d.median_seconds)} median (${d.count})` : `— (${d ? d.count : 0})`);
      const n = x.nis2 || {};
      replace(summary, h('div', {class: 'card', id: 'summary-card'},
        h('h3', {}, `${x.site}: ${fmtTime(x.period?.from)} – ${fmtTime(x.period?.to)}`),
        h('dl', {class: 'facts'},
          fact('Opened', x.opened), fact('Closed', x.closed), fact('Significant (NIS2)', x.significant),
          fact('Time to acknowledge', dur(x.time_to_acknowledge)), fact('Time to resolve', dur(x.time_to_resolve)),
          fact('NIS2 submissions', `${n.due || 0} due · ${n.overdue || 0} overdue · ${n.pending || 0} pending · ${n.done_on_time || 0} on time · ${n.done_late || 0} late`)),
        h('div', {class: 'cols'}, counts('By severity', x.by_severity), counts('By category', x.by_category))));
    } catch (err) {
      replace(summary, h('p', {class: 'muted'}, explain(err, 'Summary')));
    }
  }
  await Promise.all([loadClocks(), loadSummary()]);
}

function fact(k, v) { return [h('dt', {}, k), h('dd', {}, String(v ?? 0))]; }

function hours(sec) {
  if (sec == null) return '—';
  return sec < 3600 ? `${Math.round(sec / 60)} min` : `${(sec / 3600).toFixed(1)} h`;
}

// clock renders one NIS2 deadline (report.Clock).
function clock(c) {
  if (!c) return h('td', {}, '—');
  const late = c.late_seconds ? ` (${hours(c.late_seconds)} late)` : '';
  return h('td', {class: `clock state-${c.state}${c.state === 'overdue' ? ' overdue' : ''}`},
    c.due_at ? `due ${fmtTime(c.due_at)}` : 'due time not known yet',
    c.submitted_at ? h('div', {}, `sent ${fmtTime(c.submitted_at)}`) : '',
    h('div', {class: 'flag'}, c.state.replace('_', ' ').toUpperCase(), late));
}

function counts(title, m) {
  const rows = Object.entries(m || {}).sort((a, b) => b[1] - a[1]);
  return h('div', {}, h('h4', {}, title), rows.length ? h('table', {class: 'counts'}, h('tbody', {}, rows.map(([k, n]) => h('tr', {}, h('td', {}, k || '(none)'), h('td', {}, String(n))))))
    : h('p', {class: 'muted'}, 'none'));
}
