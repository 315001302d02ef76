// Plan steps: the constraint engine's decision, the step's state and the
// approve/reject buttons of steps that need approval.
import {api, explain} from './api.js';
import {h, badge, flash, fmtTime} from './dom.js';

// stepState describes where a step stands.
export function stepState(st) {
  if (st.state) return st.state;
  switch (st.decision) {
    case 'allowed': return st.automatic ? 'runs automatically' : 'to do by hand';
    case 'needs_approval': return `waiting for ${st.quorum || 1} approval${(st.quorum || 1) > 1 ? 's' : ''}${(st.approvers || []).length ? ` (${st.approvers.join(' / ')})` : ''}`;
    case 'forbidden': return 'not allowed';
    default: return '';
  }
}

// decide posts an approval or rejection of one step.
export async function decide(incidentID, planID, incidentVersion, stepID, verdict, role = '') {
  const path = `/api/incidents/${encodeURIComponent(incidentID)}/plans/${encodeURIComponent(planID)}/steps/${encodeURIComponent(stepID)}/approvals`;
  const body = {verdict, incident_version: incidentVersion};
  if (role) body.role = role;
  return api(path, {method: 'POST', body});
}

// approvalButtons are the approve/reject buttons of one step.
export function approvalButtons(incidentID, planID, incidentVersion, stepID, done, role = '') {
  const go = (verdict) => async (e) => {
    const btn = e.currentTarget;
    btn.disabled = true;
    try {
      const res = await decide(incidentID, planID, incidentVersion, stepID, verdict, role);
      flash(verdict === 'approve' ? 'Approval recorded.' : 'Rejection recorded.', 'ok');
      if (done) done(res, verdict);
    } catch (err) {
      flash(explain(err, verdict === 'approve' ? 'Approval' : 'Rejection'), 'error');
    } finally {
      btn.disabled = false;
    }
  };
  const key = `${planID}-${stepID}`.replace(/[^a-zA-Z0-9_-]/g, '_');
  return h('span', {class: 'approve-buttons'},
    h('button', {type: 'button', class: 'approve', id: `approve-${key}`, onclick: go('approve')}, 'Approve'), ' ',
    h('button', {type: 'button', class: 'reject', id: `reject-${key}`, onclick: go('reject')}, 'Reject'));
}

// requestState describes an approval request (GET /api/approvals): its
// state and the verdicts so far.
function requestState(st, req) {
  const approved = (req.approvals || []).filter((v) => v.verdict === 'approve');
  const rejected = (req.approvals || []).filter((v) => v.verdict === 'reject');
  const head = req.state === 'timed_out' ? 'wait ended without the quorum: nothing is done to the process'
    : `${approved.length} of ${st.quorum || 1} approval${(st.quorum || 1) > 1 ? 's' : ''}${(st.approvers || []).length ? ` (${st.approvers.join(' / ')})` : ''}, decide by ${fmtTime(req.deadline)}`;
  return [head, [...approved, ...rejected].map((v) => h('div', {class: 'muted'}, `${v.verdict} by ${v.approver} (${v.role}) ${fmtTime(v.at)}`))];
}

// stepRow is one row of a plan's step table. req is the step's approval
// request, 'none' when the console's approval list has none for it (the
// plan was superseded or the wait ended), or undefined when the console
// has no approval list; done runs after a verdict.
export function stepRow(inc, plan, st, req, done) {
  if (req === 'none') {
    req = null;
    if (st.decision === 'needs_approval') st = {...st, state: 'no longer waiting for approval (plan superseded or wait ended)'};
  } else if (!req) {
    req = null;
  }
  const waiting = st.decision === 'needs_approval' && !st.state;
  const canDecide = waiting && (!req || (req.state === 'pending' && req.can_approve));
  const role = req && (req.your_roles || []).length > 1 ? req.your_roles[0] : '';
  return h('tr', {class: `step decision-${st.decision}`, dataset: {step: st.id}},
    h('td', {}, String(st.index)),
    h('td', {class: 'text'}, st.text, st.action ? h('div', {class: 'muted'}, `action: ${st.action}`) : ''),
    h('td', {}, st.audience || ''),
    h('td', {}, st.class || ''),
    h('td', {}, badge('dec', st.decision)),
    h('td', {class: 'state'}, req ? requestState(st, req) : stepState(st)),
    h('td', {class: 'reason'}, st.reason || ''),
    h('td', {}, canDecide ? approvalButtons(inc.id, plan.id, plan.incident_version, st.id, done, role) : ''));
}
