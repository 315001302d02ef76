package constraint

import (
	"slices"

	"github.com/c981/c981/services/shared/event"
)

// Action names of the built-in catalog.
const (
	ActNotify                   = "notify"
	ActEnrich                   = "enrich"
	ActOpenTicket               = "open_ticket"
	ActOpenISMSIncident         = "open_isms_incident"
	ActCollectLogs              = "collect_logs"
	ActRequestSensorPCAP        = "request_sensor_pcap"
	ActTerminateRemoteSession   = "terminate_remote_session"
	ActDisableRemoteAccount     = "disable_remote_account"
	ActBlockAtIDMZFirewall      = "block_at_idmz_firewall"
	ActIsolateHost              = "isolate_host"
	ActShutdownSwitchPort       = "shutdown_switch_port"
	ActReboot                   = "reboot"
	ActKillProcess              = "kill_process"
	ActActiveScan               = "active_scan"
	ActChangeControllerMode     = "change_controller_mode"
	ActRestoreControllerProgram = "restore_controller_program"
	ActPushFirmware             = "push_firmware"
	ActEDRQuarantine            = "edr_quarantine"
)

// Action is one entry of the built-in action catalog.
type Action struct {
	// Name is the catalog name a playbook step refers to.
	Name string
	// Class is event.ClassPassive, event.ClassBoundary or event.ClassIntrusive.
	Class string
	// TouchesTarget is true when the action sends anything to, or changes,
	// the target device itself (as opposed to collectors, tickets or the
	// IT/OT boundary).
	TouchesTarget bool
	// Description says in plain language what the action does; it is the
	// step text when a playbook gives none.
	Description string
}

// catalog is the built-in action catalog. Playbooks cannot add to it or
// change an action's class.
var catalog = map[string]Action{
	ActNotify:                   {ActNotify, event.ClassPassive, false, "Notify the people named in the step."},
	ActEnrich:                   {ActEnrich, event.ClassPassive, false, "Look up inventory, work orders and sensor data; no packets are sent to OT devices."},
	ActOpenTicket:               {ActOpenTicket, event.ClassPassive, false, "Open a ticket for the incident."},
	ActOpenISMSIncident:         {ActOpenISMSIncident, event.ClassPassive, false, "Open an incident in the ISMS for the security incident process and reporting duties."},
	ActCollectLogs:              {ActCollectLogs, event.ClassPassive, false, "Pull the relevant logs from the log collectors (not from the OT host)."},
	ActRequestSensorPCAP:        {ActRequestSensorPCAP, event.ClassPassive, false, "Request the packet capture the passive network sensor already recorded."},
	ActTerminateRemoteSession:   {ActTerminateRemoteSession, event.ClassBoundary, false, "End the remote-access session (VPN, secure remote access, jump host)."},
	ActDisableRemoteAccount:     {ActDisableRemoteAccount, event.ClassBoundary, false, "Disable the remote-access account."},
	ActBlockAtIDMZFirewall:      {ActBlockAtIDMZFirewall, event.ClassBoundary, false, "Put a narrow block for the offending flow on the IDMZ firewall."},
	ActIsolateHost:              {ActIsolateHost, event.ClassIntrusive, true, "Isolate the host from the network."},
	ActShutdownSwitchPort:       {ActShutdownSwitchPort, event.ClassIntrusive, true, "Shut down the switch port the device is connected to."},
	ActReboot:                   {ActReboot, event.ClassIntrusive, true, "Reboot or power-cycle the device."},
	ActKillProcess:              {ActKillProcess, event.ClassIntrusive, true, "Kill a process on the host."},
	ActActiveScan:               {ActActiveScan, event.ClassIntrusive, true, "Actively scan the device or network."},
	ActChangeControllerMode:     {ActChangeControllerMode, event.ClassIntrusive, true, "Change the controller's operating mode."},
	ActRestoreControllerProgram: {ActRestoreControllerProgram, event.ClassIntrusive, true, "Restore the controller program from the verified known-good backup."},
	ActPushFirmware:             {ActPushFirmware, event.ClassIntrusive, true, "Push firmware to the device."},
	ActEDRQuarantine:            {ActEDRQuarantine, event.ClassIntrusive, true, "Quarantine files or the host with the EDR agent."},
}

// Lookup returns the catalog entry for an action name.
func Lookup(name string) (Action, bool) {
	a, ok := catalog[name]
	return a, ok
}

// Actions returns the whole catalog sorted by class (passive, boundary,
// intrusive) and name.
func Actions() []Action {
	out := make([]Action, 0, len(catalog))
	for _, a := range catalog {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b Action) int {
		if c := classRank(a.Class) - classRank(b.Class); c != 0 {
			return c
		}
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out
}

func classRank(c string) int {
	switch c {
	case event.ClassPassive:
		return 0
	case event.ClassBoundary:
		return 1
	default:
		return 2
	}
}

// Approver roles: the people who can approve a step.
const (
	RoleSOCAnalyst        = "soc_analyst"
	RoleOTSecurityLead    = "ot_security_lead"
	RoleControlEngineer   = "control_engineer"
	RoleSafetyEngineer    = "safety_engineer"
	RoleShiftSupervisor   = "shift_supervisor"
	RoleOperationsManager = "operations_manager"
	RoleSiteManager       = "site_manager"
)

var roles = []string{
	RoleSOCAnalyst, RoleOTSecurityLead, RoleControlEngineer, RoleSafetyEngineer,
	RoleShiftSupervisor, RoleOperationsManager, RoleSiteManager,
}

// Roles returns the approver roles a playbook may name.
func Roles() []string { return slices.Clone(roles) }

// KnownRole reports whether r is an approver role.
func KnownRole(r string) bool { return slices.Contains(roles, r) }

// safetyRoles are asset roles that are safety systems whatever their zone.
var safetyRoles = []string{"sis", "protection_relay"}
