// Package approval decides whether a plan step that needs approval may run:
// approvals and rejections bind to the exact plan, step and incident
// version, come from distinct people whose roles cover the step's
// approvers, and expire. When the step's timeout passes without enough
// approvals the outcome is to do nothing to the process and keep
// notifying. The console API (issue #8) records Approvals; this package is
// pure and deterministic.
package approval
