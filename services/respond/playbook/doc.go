// Package playbook loads C-981's response playbooks: YAML files with a
// top-level `playbooks:` list, each playbook an expr-lang applies_to
// expression over the incident and an ordered list of steps (guidance,
// notify, approval, action) that refer to the built-in action catalog of
// package constraint.
//
// Everything is checked at load time: unknown fields, unknown actions,
// roles and audiences, and expressions that do not compile against
// event.Incident or do not return a bool. Errors name file:line. A loaded
// Set is immutable and safe for concurrent use.
//
// A playbook file looks like:
//
//	playbooks:
//	  - id: PB-OT-02
//	    title: Safety system touched
//	    priority: 100
//	    applies_to: '"OT-003" in rule_ids or target.safety'
//	    steps:
//	      - id: notify-safety-engineer
//	        kind: notify
//	        action: notify
//	        audience: safety_engineer
//	        automatic: true
//	        text: A safety instrumented system was accessed ...
//	      - id: restore
//	        kind: action
//	        action: restore_controller_program
//	        approvals: {roles: [control_engineer, operations_manager], count: 2}
//	        preconditions: maint_active
//	        timeout: 30m
//	        text: Restore the verified program ...
package playbook
