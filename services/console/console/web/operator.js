// The operator page: the open incidents of one site with the plain-language
// guidance for operators, and the approvals waiting for the caller.
import {api, explain} from './api.js';
import {h, replace, fmtTime, badge} from './dom.js';
import {subscribe} from './app.js';
import {approvalButtons, stepState} from './plan.js';

const OPEN = 'new,acknowledged,investigating,contained';
const MAX_INCIDENTS = 20;

export async function operatorPage(view, site) {
  let sites = (await api('/api/sites').catch(() => ({sites: []}))).sites.map((x) => x.id);
  if (!sites.length) {
    // Without configured site models, offer the sites of the open incidents.
    const r = await api(`/api/incidents?status=${OPEN}&limit=200`);
    sites = [...new Set((r.incidents || []).map((i) => i.site))].sort();
  }
  if (!site || !sites.includes(site)) site = sites[0] || '';
  const sel = h('select', {id: 'op-site'}, sites.map((x) => h('option', {value: x}, x)));
  sel.value = site;
  sel.addEventListener('change', () => { location.hash = `#/operator/${encodeURIComponent(sel.value)}`; });
  const guidance = h('div', {id: 'guidance'});
  const approvals = h('div', {id: 'approvals'});
  replace(view, h('h1', {}, 'Operator view'), h('p', {}, h('label', {}, 'Site ', sel)),
    h('h2', {}, 'Approvals waiting for you'), approvals,
    h('h2', {}, 'Open incidents and what to do'), guidance);
  if (!site) { replace(guidance, h('p', {class: 'muted'}, 'You have no sites.')); return; }

  async function loadApprovals() {
    try {
      const r = await api(`/api/approvals?site=${encodeURIComponent(site)}`);
      const items = (r.requests || []).filter((a) => a.state === 'pending');
      const mine = items.filter((a) => a.can_approve);
      const others = items.length - mine.length;
      replace(approvals, mine.length ? h('table', {class: 'approvals'},
        h('thead', {}, h('tr', {}, ['Incident', 'Step', 'Why it needs approval', 'Approvals', 'Decide by', ''].map((c) => h('th', {}, c)))),
        h('tbody', {}, mine.map((a) => h('tr', {dataset: {step: a.step.id, plan: a.plan_id}},
          h('td', {}, h('a', {href: `#/incident/${encodeURIComponent(a.incident_id)}`}, a.playbook_title || a.incident_id)),
          h('td', {class: 'text'}, a.step.text),
          h('td', {class: 'reason'}, a.step.reason || ''),
          h('td', {}, `${(a.approvals || []).filter((v) => v.verdict === 'approve').length} of ${a.step.quorum || 1} (${(a.step.approvers || []).join(' / ')})`,
            (a.approvals || []).map((v) => h('div', {class: 'muted'}, `${v.verdict} by ${v.approver} (${v.role})`))),
          h('td', {}, fmtTime(a.deadline)),
          h('td', {}, approvalButtons(a.incident_id, a.plan_id, a.incident_version, a.step.id, () => loadApprovals(), a.your_roles.length > 1 ? a.your_roles[0] : ''))))))
        : h('p', {class: 'muted', id: 'no-approvals'}, 'Nothing is waiting for your approval.'),
      others ? h('p', {class: 'muted'}, `${others} other step${others === 1 ? '' : 's'} wait for approval by other roles.`) : '');
    } catch (err) {
      replace(approvals, h('p', {class: 'muted'}, explain(err, 'Approvals')));
    }
  }

  async function loadGuidance() {
    const r = await api(`/api/incidents?site=${encodeURIComponent(site)}&status=${OPEN}&limit=${MAX_INCIDENTS}`);
    const incs = r.incidents || [];
    if (!incs.length) { replace(guidance, h('p', {class: 'muted'}, 'No open incidents at this site.')); return; }
    const cards = await Promise.all(incs.map(async (inc) => {
      let steps = [];
      try {
        const p = await api(`/api/incidents/${encodeURIComponent(inc.id)}/plans`);
        const plan = (p.plans || []).reduce((a, b) => (!a || b.incident_version > a.incident_version ? b : a), null);
        steps = plan ? plan.steps.filter((st) => st.audience === 'operator' || (st.kind === 'guidance' && !st.audience)) : [];
      } catch { /* shown as no guidance */ }
      return h('article', {class: 'card guidance', dataset: {id: inc.id}},
        h('h3', {}, badge('sev', inc.severity), ' ', h('a', {href: `#/incident/${encodeURIComponent(inc.id)}`}, inc.title), ' ', badge('st', inc.triage?.status || inc.status)),
        h('p', {class: 'muted'}, `${(inc.zones || []).join(', ')} · since ${fmtTime(inc.first_seen)}`),
        steps.length ? h('ol', {class: 'steps-plain'}, steps.map((st) => h('li', {class: `decision-${st.decision}`}, st.text, h('div', {class: 'muted'}, stepState(st), st.decision !== 'allowed' && st.reason ? ` — ${st.reason}` : ''))))
          : h('p', {class: 'muted'}, 'No operator guidance in the plan.'));
    }));
    replace(guidance, cards);
  }

  let timer = null;
  const refresh = () => { clearTimeout(timer); timer = setTimeout(() => { loadGuidance().catch(() => {}); loadApprovals(); }, 300); };
  subscribe('incident', (inc) => { if (inc.site === site) refresh(); });
  subscribe('plan', (p) => { if (p.site === site) refresh(); });
  subscribe('triage', (t) => { if (t.site === site) refresh(); });
  await Promise.all([loadApprovals(), loadGuidance()]);
}
