// Package constraint is C-981's safety constraint engine for response
// steps: a pure, deterministic function that decides, for one playbook step
// and the incident's target, whether the step may run (allowed), must wait
// for named people to approve it (needs_approval) or must not run at all
// (forbidden), and always says why.
//
// The built-in rules encode what OT incident-response guidance (NIST SP
// 800-82r3, CISA/INL, SANS ICS) says about containment in a running plant,
// and no playbook can override them:
//
//   - (a) nothing automatic on a safety-system asset or in a safety zone:
//     the safety engineer decides;
//   - (b) nothing that touches a device at Purdue level 2 or below runs
//     automatically outside an open maintenance window (boundary actions
//     run at the IDMZ enforcement point, not on the device: rule d);
//   - (c) intrusive actions (isolate, reboot, restore, firmware, ...) are
//     never automatic and need two distinct approvers, a control engineer
//     and the operations manager, joined by the safety engineer when the
//     target is a safety system;
//   - (d) boundary actions (block at the IDMZ firewall, end a remote
//     session, disable a remote account) are enforced only at Level 3.5+
//     enforcement points: the incident's source or target must be at
//     Purdue 3.5 or above (Context.EnforcementPurdue), e.g. a block at the
//     IDMZ firewall of a source in the enterprise, IDMZ or remote-access
//     zones; a flow inside OT is never cut on the control path;
//   - (e) active scanning is forbidden everywhere in OT;
//   - (f) guidance steps are always allowed; passive actions that do not
//     touch the device (notify, open a ticket, pull logs from collectors)
//     are allowed automatically.
//
// A playbook may add approvers and raise the number of approvals, never
// lower them. The action catalog (Lookup) fixes each action's class, so a
// playbook cannot relabel an intrusive action as passive.
package constraint
