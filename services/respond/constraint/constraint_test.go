package constraint

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/c981/c981/services/shared/event"
)

func act(t testing.TB, name string) Action {
	t.Helper()
	a, ok := Lookup(name)
	if !ok {
		t.Fatalf("action %q not in catalog", name)
	}
	return a
}

var (
	plc      = Context{Role: "plc", ZoneKind: "control", Purdue: 1, SLT: 3}
	plcMaint = Context{Role: "plc", ZoneKind: "control", Purdue: 1, SLT: 3, MaintActive: true}
	sis      = Context{Role: "sis", ZoneKind: "safety", Safety: true, Purdue: 1, SLT: 3}
	hmi      = Context{Role: "hmi", ZoneKind: "supervisory", Purdue: 2, SLT: 2}
	hist     = Context{Role: "historian", ZoneKind: "operations", Purdue: 3, SLT: 2}
	mirror   = Context{Role: "historian", ZoneKind: "dmz", Purdue: 3.5, SLT: 2}
	office   = Context{Role: "workstation", ZoneKind: "enterprise", Purdue: 4, SLT: 1}
	unknown  = Context{Role: "unknown", ZoneKind: "unknown", Purdue: -1}
)

func TestDecideNamed(t *testing.T) {
	// A device-touching passive action does not exist in the catalog; this
	// one exercises rules (b) and (f) for such an action.
	readDiag := Action{Name: "read_diagnostics", Class: event.ClassPassive, TouchesTarget: true}
	tests := []struct {
		name      string
		step      Step
		ctx       Context
		decision  string
		reason    string
		approvers []string
		quorum    int
	}{
		{
			name:     "guidance on a safety system is allowed",
			step:     Step{Kind: KindGuidance},
			ctx:      sis,
			decision: event.DecisionAllowed,
			reason:   "guidance for a person; it changes nothing by itself",
		},
		{
			name:     "automatic notify on a safety system is allowed",
			step:     Step{Kind: KindNotify, Action: act(t, ActNotify), Automatic: true},
			ctx:      sis,
			decision: event.DecisionAllowed,
			reason:   "passive action notify does not touch the target; it may run automatically",
		},
		{
			name:     "manual log collection",
			step:     Step{Kind: KindAction, Action: act(t, ActCollectLogs)},
			ctx:      plc,
			decision: event.DecisionAllowed,
			reason:   "passive action collect_logs does not touch the target; a person performs it",
		},
		{
			name:     "automatic isolate on a safety system is forbidden",
			step:     Step{Kind: KindAction, Action: act(t, ActIsolateHost), Automatic: true},
			ctx:      sis,
			decision: event.DecisionForbidden,
			reason:   "target is a safety system: no automatic action; the safety engineer decides",
		},
		{
			name:     "automatic boundary action on a safety system is forbidden",
			step:     Step{Kind: KindAction, Action: act(t, ActTerminateRemoteSession), Automatic: true},
			ctx:      sis,
			decision: event.DecisionForbidden,
			reason:   "target is a safety system: no automatic action; the safety engineer decides",
		},
		{
			name:     "automatic IDMZ block of an enterprise source reaching a PLC is allowed",
			step:     Step{Kind: KindAction, Action: act(t, ActBlockAtIDMZFirewall), Automatic: true},
			ctx:      Context{Role: "plc", ZoneKind: "control", Purdue: 1, SLT: 3, SourceZoneKind: "enterprise", SourcePurdue: 4},
			decision: event.DecisionAllowed,
			reason:   "boundary action block_at_idmz_firewall at the IDMZ enforcement point; automatic as the playbook allows",
		},
		{
			name:     "IDMZ block of a source inside OT is forbidden",
			step:     Step{Kind: KindAction, Action: act(t, ActBlockAtIDMZFirewall), Automatic: true},
			ctx:      Context{Role: "plc", ZoneKind: "control", Purdue: 1, SLT: 3, SourceZoneKind: "supervisory", SourcePurdue: 2},
			decision: event.DecisionForbidden,
			reason:   "boundary action block_at_idmz_firewall is enforced only at Level 3.5+ enforcement points (IDMZ, remote access); neither the source (supervisory zone, Purdue 2) nor the target (plc in control zone (Purdue 1, SL-T 3)) is at or above the boundary",
		},
		{
			name:     "a source of unknown zone does not lift a low target to the boundary",
			step:     Step{Kind: KindAction, Action: act(t, ActBlockAtIDMZFirewall), Automatic: true},
			ctx:      Context{Role: "plc", ZoneKind: "control", Purdue: 1, SLT: 3, SourceZoneKind: "unknown", SourcePurdue: 4},
			decision: event.DecisionForbidden,
			reason:   "boundary action block_at_idmz_firewall is enforced only at Level 3.5+ enforcement points (IDMZ, remote access); neither the source (unknown) nor the target (plc in control zone (Purdue 1, SL-T 3)) is at or above the boundary",
		},
		{
			name:     "the asset's response constraints forbid an action the engine would gate",
			step:     Step{Kind: KindAction, Action: act(t, ActReboot), Approvals: Approvals{Roles: []string{RoleControlEngineer, RoleOperationsManager}}},
			ctx:      Context{Role: "plc", ZoneKind: "control", Purdue: 1, SLT: 3, ForbiddenActions: []string{ActReboot}},
			decision: event.DecisionForbidden,
			reason:   "the site model forbids reboot on this asset (response constraints of plc in control zone (Purdue 1, SL-T 3))",
		},
		{
			name:      "the asset's approvers join the intrusive approvers",
			step:      Step{Kind: KindAction, Action: act(t, ActIsolateHost)},
			ctx:       Context{Role: "plc", ZoneKind: "control", Purdue: 1, SLT: 3, AssetApprovers: []string{RoleShiftSupervisor}},
			decision:  event.DecisionNeedsApproval,
			reason:    "intrusive action isolate_host can upset the process on plc in control zone (Purdue 1, SL-T 3); it is never automatic; needs 3 distinct approvers: control_engineer + operations_manager + shift_supervisor",
			approvers: []string{RoleControlEngineer, RoleOperationsManager, RoleShiftSupervisor},
			quorum:    3,
		},
		{
			name:      "automatic isolate on a PLC needs two approvers",
			step:      Step{Kind: KindAction, Action: act(t, ActIsolateHost), Automatic: true},
			ctx:       plc,
			decision:  event.DecisionNeedsApproval,
			reason:    "automatic execution refused: intrusive action isolate_host can upset the process on plc in control zone (Purdue 1, SL-T 3); it is never automatic; needs 2 distinct approvers: control_engineer + operations_manager",
			approvers: []string{RoleControlEngineer, RoleOperationsManager},
			quorum:    2,
		},
		{
			name:      "intrusive action stays approval-gated inside a maintenance window",
			step:      Step{Kind: KindAction, Action: act(t, ActRestoreControllerProgram), Timeout: 30 * time.Minute},
			ctx:       plcMaint,
			decision:  event.DecisionNeedsApproval,
			reason:    "intrusive action restore_controller_program can upset the process on plc in control zone (Purdue 1, SL-T 3); it is never automatic; needs 2 distinct approvers: control_engineer + operations_manager; without approval within 30m nothing is done",
			approvers: []string{RoleControlEngineer, RoleOperationsManager},
			quorum:    2,
		},
		{
			name:      "manual intrusive action on a safety system adds the safety engineer",
			step:      Step{Kind: KindAction, Action: act(t, ActRestoreControllerProgram)},
			ctx:       sis,
			decision:  event.DecisionNeedsApproval,
			reason:    "intrusive action restore_controller_program can upset the process on sis in safety zone (Purdue 1, SL-T 3); it is never automatic; needs 3 distinct approvers: control_engineer + operations_manager + safety_engineer",
			approvers: []string{RoleControlEngineer, RoleOperationsManager, RoleSafetyEngineer},
			quorum:    3,
		},
		{
			name:      "playbook approvals add roles and raise the quorum",
			step:      Step{Kind: KindAction, Action: act(t, ActReboot), Approvals: Approvals{Roles: []string{RoleShiftSupervisor, RoleControlEngineer}, Count: 4}},
			ctx:       hmi,
			decision:  event.DecisionNeedsApproval,
			reason:    "intrusive action reboot can upset the process on hmi in supervisory zone (Purdue 2, SL-T 2); it is never automatic; needs 4 distinct approvers: control_engineer + operations_manager + shift_supervisor",
			approvers: []string{RoleControlEngineer, RoleOperationsManager, RoleShiftSupervisor},
			quorum:    4,
		},
		{
			name:      "playbook approvals cannot lower the built-in quorum",
			step:      Step{Kind: KindAction, Action: act(t, ActPushFirmware), Approvals: Approvals{Roles: []string{RoleControlEngineer}, Count: 1}},
			ctx:       hist,
			decision:  event.DecisionNeedsApproval,
			reason:    "intrusive action push_firmware can upset the process on historian in operations zone (Purdue 3, SL-T 2); it is never automatic; needs 2 distinct approvers: control_engineer + operations_manager",
			approvers: []string{RoleControlEngineer, RoleOperationsManager},
			quorum:    2,
		},
		{
			name:     "active scan is forbidden even in the enterprise zone",
			step:     Step{Kind: KindAction, Action: act(t, ActActiveScan)},
			ctx:      office,
			decision: event.DecisionForbidden,
			reason:   "active scanning is forbidden everywhere in OT: it can stall or crash controllers; use passive sensor data",
		},
		{
			name:     "boundary action against a Level 1 target is forbidden",
			step:     Step{Kind: KindAction, Action: act(t, ActBlockAtIDMZFirewall), Automatic: true},
			ctx:      plc,
			decision: event.DecisionForbidden,
			reason:   "boundary action block_at_idmz_firewall is enforced only at Level 3.5+ enforcement points (IDMZ, remote access); neither the source (unknown) nor the target (plc in control zone (Purdue 1, SL-T 3)) is at or above the boundary",
		},
		{
			name:     "boundary action against a target of unknown level is forbidden",
			step:     Step{Kind: KindAction, Action: act(t, ActDisableRemoteAccount)},
			ctx:      unknown,
			decision: event.DecisionForbidden,
			reason:   "boundary action disable_remote_account is enforced only at Level 3.5+ enforcement points (IDMZ, remote access); neither the source (unknown) nor the target (unknown asset in unknown zone (Purdue unknown)) is at or above the boundary",
		},
		{
			name:     "automatic IDMZ block against a DMZ target is allowed",
			step:     Step{Kind: KindAction, Action: act(t, ActBlockAtIDMZFirewall), Automatic: true},
			ctx:      mirror,
			decision: event.DecisionAllowed,
			reason:   "boundary action block_at_idmz_firewall at the IDMZ enforcement point; automatic as the playbook allows",
		},
		{
			name:      "manual boundary action needs the OT security lead",
			step:      Step{Kind: KindAction, Action: act(t, ActTerminateRemoteSession)},
			ctx:       office,
			decision:  event.DecisionNeedsApproval,
			reason:    "boundary action terminate_remote_session performed by hand needs the OT security lead's approval; needs 1 approver: ot_security_lead",
			approvers: []string{RoleOTSecurityLead},
			quorum:    1,
		},
		{
			name:     "unmet precondition forbids the step",
			step:     Step{Kind: KindAction, Action: act(t, ActBlockAtIDMZFirewall), Automatic: true, Unmet: []string{"source in enterprise or idmz zone"}},
			ctx:      mirror,
			decision: event.DecisionForbidden,
			reason:   "precondition not met: source in enterprise or idmz zone",
		},
		{
			name:      "automatic device-touching passive action at Level 1 outside a window needs the control engineer",
			step:      Step{Kind: KindAction, Action: readDiag, Automatic: true},
			ctx:       plc,
			decision:  event.DecisionNeedsApproval,
			reason:    "automatic action read_diagnostics touches plc in control zone (Purdue 1, SL-T 3) outside an open maintenance window; needs 1 approver: control_engineer",
			approvers: []string{RoleControlEngineer},
			quorum:    1,
		},
		{
			name:     "automatic device-touching passive action inside a window is allowed",
			step:     Step{Kind: KindAction, Action: readDiag, Automatic: true},
			ctx:      plcMaint,
			decision: event.DecisionAllowed,
			reason:   "passive action read_diagnostics does not touch the target; it may run automatically",
		},
		{
			name:      "approval gate",
			step:      Step{Kind: KindApproval, Approvals: Approvals{Roles: []string{RoleShiftSupervisor}}},
			ctx:       plc,
			decision:  event.DecisionNeedsApproval,
			reason:    "approval gate: the plan continues only after approval; needs 1 approver: shift_supervisor",
			approvers: []string{RoleShiftSupervisor},
			quorum:    1,
		},
		{
			name:     "notify with a boundary action is forbidden",
			step:     Step{Kind: KindNotify, Action: act(t, ActBlockAtIDMZFirewall)},
			ctx:      office,
			decision: event.DecisionForbidden,
			reason:   "notify steps may only use passive actions; block_at_idmz_firewall is boundary",
		},
		{
			name:     "action outside the catalog is forbidden",
			step:     Step{Kind: KindAction, Action: Action{Name: "format_disk"}},
			ctx:      office,
			decision: event.DecisionForbidden,
			reason:   `action "format_disk" is not in the built-in action catalog`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Decide(tt.step, tt.ctx)
			if got.Decision != tt.decision || got.Reason != tt.reason || !slices.Equal(got.Approvers, tt.approvers) || got.Quorum != tt.quorum {
				t.Errorf("Decide =\n  %+v\nwant\n  {Decision:%s Reason:%s Approvers:%v Quorum:%d}", got, tt.decision, tt.reason, tt.approvers, tt.quorum)
			}
		})
	}
}

// TestDecideInvariants checks the built-in rules for every combination of
// target (role x zone kind x safety x Purdue x maintenance), action (every
// catalog action plus a device-touching passive one), step kind, automatic
// flag, playbook approvals and preconditions.
func TestDecideInvariants(t *testing.T) {
	targetRoles := []string{"plc", "sis", "hmi", "ews", "historian", "jump_host", "workstation", "unknown"}
	zoneKinds := []string{"enterprise", "dmz", "operations", "supervisory", "control", "safety", "unknown"}
	purdues := []float64{-1, 0, 1, 2, 3, 3.5, 4, 5}
	actions := append(Actions(), Action{Name: "read_diagnostics", Class: event.ClassPassive, TouchesTarget: true})
	approvals := []Approvals{
		{},
		{Roles: []string{RoleShiftSupervisor}},
		{Roles: []string{RoleControlEngineer, RoleSiteManager}, Count: 3},
	}
	unmet := [][]string{nil, {"maint_active"}}
	n := 0
	for _, role := range targetRoles {
		for _, zk := range zoneKinds {
			for _, safetyFlag := range []bool{false, true} {
				for _, p := range purdues {
					for _, maint := range []bool{false, true} {
						c := Context{Role: role, ZoneKind: zk, Safety: safetyFlag, Purdue: p, SLT: 2, MaintActive: maint}
						for _, a := range actions {
							for _, kind := range []string{KindNotify, KindAction} {
								for _, auto := range []bool{false, true} {
									for _, ap := range approvals {
										for _, um := range unmet {
											s := Step{Kind: kind, Action: a, Automatic: auto, Approvals: ap, Unmet: um}
											checkInvariants(t, s, c)
											n++
										}
									}
								}
							}
						}
					}
				}
			}
		}
	}
	for _, c := range []Context{plc, sis, office, unknown} {
		for _, auto := range []bool{false, true} {
			if d := Decide(Step{Kind: KindGuidance, Automatic: auto}, c); d.Decision != event.DecisionAllowed || d.Reason == "" {
				t.Errorf("guidance on %s: %+v, want allowed with a reason", c, d)
			}
		}
	}
	t.Logf("checked %d combinations", n)
}

func checkInvariants(t *testing.T, s Step, c Context) {
	t.Helper()
	d := Decide(s, c)
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("step %+v on %+v -> %+v: %s", s, c, d, fmt.Sprintf(format, args...))
	}
	if d.Reason == "" {
		fail("empty reason")
	}
	if Rank(d.Decision) > 2 {
		fail("invalid decision")
	}
	if d2 := Decide(s, c); d2.Decision != d.Decision || d2.Reason != d.Reason || !slices.Equal(d2.Approvers, d.Approvers) || d2.Quorum != d.Quorum {
		fail("not deterministic: second call %+v", d2)
	}
	safety := c.Safety || c.ZoneKind == "safety" || c.Role == "sis"
	a := s.Action
	touches := a.Class != event.ClassPassive || a.TouchesTarget
	switch {
	case d.Decision == event.DecisionNeedsApproval:
		if len(d.Approvers) == 0 || d.Quorum < len(d.Approvers) {
			fail("needs approval without approvers or with quorum below the role count")
		}
		for _, r := range s.Approvals.Roles {
			if !slices.Contains(d.Approvers, r) {
				fail("playbook approver %s dropped", r)
			}
		}
		if d.Quorum < s.Approvals.Count {
			fail("playbook count %d lowered", s.Approvals.Count)
		}
	case d.Decision != event.DecisionNeedsApproval && (len(d.Approvers) > 0 || d.Quorum > 0):
		fail("approvers on a %s decision", d.Decision)
	}
	// (e)
	if a.Name == ActActiveScan && d.Decision != event.DecisionForbidden {
		fail("active scan not forbidden")
	}
	// (a)
	if safety && s.Automatic && touches && d.Decision != event.DecisionForbidden {
		fail("automatic step touching a safety system not forbidden")
	}
	// (b)
	// Boundary actions are executed at the IDMZ enforcement point (rule d),
	// not at Level 0-2, so (b) concerns what runs on the device.
	onDevice := a.Class == event.ClassIntrusive || a.TouchesTarget
	if s.Automatic && onDevice && (c.Purdue <= 2) && !c.MaintActive && d.Decision == event.DecisionAllowed {
		fail("automatic step touching Level 0-2 outside a window allowed")
	}
	// (c)
	if a.Class == event.ClassIntrusive {
		if d.Decision == event.DecisionAllowed {
			fail("intrusive action allowed")
		}
		if d.Decision == event.DecisionNeedsApproval {
			if !slices.Contains(d.Approvers, RoleControlEngineer) || !slices.Contains(d.Approvers, RoleOperationsManager) || d.Quorum < 2 {
				fail("intrusive action without control engineer + operations manager")
			}
			if safety && !slices.Contains(d.Approvers, RoleSafetyEngineer) {
				fail("intrusive action on a safety system without the safety engineer")
			}
		}
	}
	// (d)
	if a.Class == event.ClassBoundary && boundaryLevel(c) < 3.5 && d.Decision != event.DecisionForbidden {
		fail("boundary action below Level 3.5 not forbidden")
	}
	// Unmet preconditions always forbid.
	if len(s.Unmet) > 0 && d.Decision != event.DecisionForbidden {
		fail("unmet precondition not forbidden")
	}
	// notify is passive only.
	if s.Kind == KindNotify && a.Class != event.ClassPassive && d.Decision != event.DecisionForbidden {
		fail("notify with a %s action not forbidden", a.Class)
	}
	// Playbook approvals never lower a built-in requirement.
	if len(s.Approvals.Roles) > 0 || s.Approvals.Count > 0 {
		base := s
		base.Approvals = Approvals{}
		b := Decide(base, c)
		if Rank(d.Decision) < Rank(b.Decision) {
			fail("playbook approvals lowered the decision from %s", b.Decision)
		}
		for _, r := range b.Approvers {
			if !slices.Contains(d.Approvers, r) {
				fail("playbook approvals dropped built-in approver %s", r)
			}
		}
		if d.Quorum < b.Quorum {
			fail("playbook approvals lowered the quorum from %d", b.Quorum)
		}
	}
	// Allowed automatic steps never touch a Level 0-2 device outside a window.
	if d.Decision == event.DecisionAllowed && s.Automatic && a.Class == event.ClassIntrusive {
		fail("automatic intrusive step allowed")
	}
}

// boundaryLevel is the test's own reading of rule (d): the enforcement point
// is at the higher of the target's level and the level of a source whose
// zone is known.
func boundaryLevel(c Context) float64 {
	lvl := c.Purdue
	if c.SourceZoneKind != "" && c.SourceZoneKind != "unknown" && c.SourcePurdue >= 0 && c.SourcePurdue > lvl {
		lvl = c.SourcePurdue
	}
	return lvl
}

func TestCatalog(t *testing.T) {
	want := map[string][]string{
		event.ClassPassive:   {ActCollectLogs, ActEnrich, ActNotify, ActOpenISMSIncident, ActOpenTicket, ActRequestSensorPCAP},
		event.ClassBoundary:  {ActBlockAtIDMZFirewall, ActDisableRemoteAccount, ActTerminateRemoteSession},
		event.ClassIntrusive: {ActActiveScan, ActChangeControllerMode, ActEDRQuarantine, ActIsolateHost, ActKillProcess, ActPushFirmware, ActReboot, ActRestoreControllerProgram, ActShutdownSwitchPort},
	}
	got := map[string][]string{}
	for _, a := range Actions() {
		got[a.Class] = append(got[a.Class], a.Name)
		if a.Description == "" {
			t.Errorf("action %s has no description", a.Name)
		}
		if a.Class == event.ClassPassive && a.TouchesTarget {
			t.Errorf("passive catalog action %s touches the target", a.Name)
		}
		if a.Class == event.ClassIntrusive && !a.TouchesTarget {
			t.Errorf("intrusive catalog action %s does not touch the target", a.Name)
		}
	}
	for class, names := range want {
		t.Run(class, func(t *testing.T) {
			if !slices.Equal(got[class], names) {
				t.Errorf("class %s = %v, want %v", class, got[class], names)
			}
		})
	}
}

func BenchmarkDecide(b *testing.B) {
	steps := []Step{
		{Kind: KindNotify, Action: act(b, ActNotify), Automatic: true},
		{Kind: KindGuidance},
		{Kind: KindAction, Action: act(b, ActRestoreControllerProgram), Approvals: Approvals{Roles: []string{RoleControlEngineer, RoleOperationsManager}}},
		{Kind: KindAction, Action: act(b, ActIsolateHost), Automatic: true},
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for _, s := range steps {
			_ = Decide(s, plc)
			n++
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "decisions/s")
}
