package site

// Model is one site's zone-and-conduit model, as written in its YAML file.
type Model struct {
	// Version increases with every change of the model; enriched events carry
	// it so a verdict can be traced to the model that produced it.
	Version int `yaml:"version"`
	// Site identifies the site.
	Site Site `yaml:"site"`
	// Zones partition the site's networks (IEC 62443-3-2 ZCR 3).
	Zones []Zone `yaml:"zones"`
	// Conduits connect pairs of zones and allow-list the flows between them.
	Conduits []Conduit `yaml:"conduits"`
	// Assets is the inventory.
	Assets []Asset `yaml:"assets"`
	// MaintenanceWindows are the planned engineering windows.
	MaintenanceWindows []MaintenanceWindow `yaml:"maintenance_windows"`
}

// Site identifies a plant.
type Site struct {
	// ID is the site id, the prefix of every zone, conduit and asset id.
	ID string `yaml:"id"`
	// Name is the human name.
	Name string `yaml:"name"`
	// Timezone is the IANA time zone of the plant (e.g. Europe/Berlin).
	Timezone string `yaml:"timezone"`
	// NIS2 classifies the operator under the NIS2 directive.
	NIS2 NIS2 `yaml:"nis2"`
	// Areas are the plant's physical or functional areas (units, buildings,
	// process cells); zones name the area they belong to.
	Areas []Area `yaml:"areas"`
}

// Area is a physical or functional part of a site (ISA-95 area: a unit,
// building or process cell).
type Area struct {
	// ID is "<site>/<name>".
	ID string `yaml:"id"`
	// Name is the human name.
	Name string `yaml:"name"`
}

// NIS2 is the site's classification under the NIS2 directive.
type NIS2 struct {
	// EntityClass is essential, important or out_of_scope.
	EntityClass string `yaml:"entity_class"`
	// Sector is the Annex I/II sector (energy, chemicals, ...).
	Sector string `yaml:"sector"`
}

// SecurityLevel is an IEC 62443 security level pair.
type SecurityLevel struct {
	// Target is SL-T (1-4).
	Target int `yaml:"target"`
	// Achieved is SL-A (1-4), 0 when not assessed.
	Achieved int `yaml:"achieved"`
}

// Zone is a group of assets with common security requirements.
type Zone struct {
	// ID is "<site>/<name>".
	ID string `yaml:"id"`
	// Name is the human name.
	Name string `yaml:"name"`
	// Kind is one of ZoneKinds.
	Kind string `yaml:"kind"`
	// PurdueLevel is the Purdue level (0-5 in steps of 0.5; 3.5 = IDMZ).
	PurdueLevel *float64 `yaml:"purdue_level"`
	// SecurityLevel holds the zone's SL-T and SL-A.
	SecurityLevel SecurityLevel `yaml:"security_level"`
	// Criticality is one of Criticalities, "" when not rated.
	Criticality string `yaml:"criticality"`
	// Safety marks a safety zone (SIS, IEC 62443-3-2 ZCR 3.3).
	Safety bool `yaml:"safety"`
	// CIDRs are the zone's networks; they must not overlap other zones'.
	CIDRs []string `yaml:"cidrs"`
	// VLANs are the zone's VLAN ids.
	VLANs []int `yaml:"vlans"`
	// Area is the id of the site area the zone belongs to, "" when none.
	Area string `yaml:"area"`
}

// Conduit groups the communication channels between two zones.
type Conduit struct {
	// ID is "<site>/<name>".
	ID string `yaml:"id"`
	// Name is the human name.
	Name string `yaml:"name"`
	// Between names the two zones; with Unidirectional, only the first may
	// initiate communication.
	Between []string `yaml:"between"`
	// Unidirectional marks a one-way conduit (data diode, read-only gateway):
	// every flow must start in Between[0].
	Unidirectional bool `yaml:"unidirectional"`
	// SecurityLevel is the conduit's SL-T and SL-A, nil when not rated.
	SecurityLevel *SecurityLevel `yaml:"security_level"`
	// Enforcement lists the devices that enforce the conduit.
	Enforcement []Enforcement `yaml:"enforcement"`
	// Flows is the allow-list: cross-zone traffic that matches no flow is a
	// violation.
	Flows []Flow `yaml:"flows"`
}

// Enforcement is a device enforcing a conduit.
type Enforcement struct {
	// Type is one of EnforcementTypes.
	Type string `yaml:"type"`
	// Device names the device (an asset id or a free name).
	Device string `yaml:"device"`
}

// Flow is one allowed communication inside a conduit. Src is the initiator;
// replies are implied.
type Flow struct {
	// ID is unique within the conduit.
	ID string `yaml:"id"`
	// Src and Dst select the initiator and the responder.
	Src FlowEnd `yaml:"src"`
	Dst FlowEnd `yaml:"dst"`
	// Transport is tcp, udp or icmp.
	Transport string `yaml:"transport"`
	// Ports are the allowed destination ports; empty allows any port.
	Ports []int `yaml:"ports"`
	// Protocol is the application protocol (modbus, enip, rdp, ...); empty
	// allows any.
	Protocol string `yaml:"protocol"`
	// Operations is the OT function-level policy.
	Operations Operations `yaml:"operations"`
}

// FlowEnd selects the endpoints on one side of a flow: addresses in Zone
// whose asset has one of Roles or is one of Assets. With neither Roles nor
// Assets, any address in the zone matches (including uninventoried ones).
type FlowEnd struct {
	// Zone is the zone id; it must be one of the conduit's zones.
	Zone string `yaml:"zone"`
	// Roles are asset roles (see Roles).
	Roles []string `yaml:"roles"`
	// Assets are asset ids.
	Assets []string `yaml:"assets"`
}

// Operations is the OT function-level policy of a flow.
type Operations struct {
	// Allow lists the permitted operations; empty permits any.
	Allow []string `yaml:"allow"`
	// RequireMaintenanceWindow lists operations permitted only while a
	// maintenance window covering the destination is open and allows them.
	RequireMaintenanceWindow []string `yaml:"require_maintenance_window"`
}

// Asset is an inventoried device.
type Asset struct {
	// ID is "<site>/<name>".
	ID string `yaml:"id"`
	// Name is the human name.
	Name string `yaml:"name"`
	// Role is one of Roles.
	Role string `yaml:"role"`
	// Zone is the zone id; when empty it is derived from the IPs by
	// longest-prefix match on the zone CIDRs (see ZoneOf).
	Zone string `yaml:"zone"`
	// IPs are the asset's addresses; all must lie in its zone.
	IPs []string `yaml:"ips"`
	// MACs are the asset's hardware addresses.
	MACs []string `yaml:"macs"`
	// Hostname is the network host name.
	Hostname string `yaml:"hostname"`
	// Hostnames are further names of the asset (aliases, FQDNs); like
	// Hostname they are matched case-insensitively and must be unique in the
	// site.
	Hostnames []string `yaml:"hostnames"`
	// Vendor, Model and Firmware describe the product.
	Vendor   string `yaml:"vendor"`
	Model    string `yaml:"model"`
	Firmware string `yaml:"firmware"`
	// Criticality is one of Criticalities; empty inherits the zone's.
	Criticality string `yaml:"criticality"`
	// Safety marks a safety system (SIS); assets in a safety zone are
	// safety-relevant regardless.
	Safety bool `yaml:"safety"`
	// PurdueLevel overrides the zone's Purdue level; nil inherits it.
	PurdueLevel *float64 `yaml:"purdue_level"`
	// Response constrains automated and manual response on the asset.
	Response ResponseConstraints `yaml:"response"`
}

// ResponseConstraints restrict what the respond stage may do to an asset.
type ResponseConstraints struct {
	// ForbiddenActions are response action names (isolate_host, reboot,
	// active_scan, ...; lower-case letters, digits and '_') that must never
	// be taken on the asset. The respond stage's action catalog defines them.
	ForbiddenActions []string `yaml:"forbidden_actions"`
	// Approvers are the roles or teams (e.g. process_safety_engineer,
	// shift_supervisor) that must approve any intrusive action on the asset.
	Approvers []string `yaml:"approvers"`
}

// MaintenanceWindow is a planned period in which engineering operations on
// its scope are allowed.
type MaintenanceWindow struct {
	// ID identifies the window.
	ID string `yaml:"id"`
	// WorkOrder is the CMMS / management-of-change reference.
	WorkOrder string `yaml:"work_order"`
	// Scope is what the window covers.
	Scope Scope `yaml:"scope"`
	// Start and End bound a one-off window (RFC 3339, start inclusive, end
	// exclusive). A window has either Start and End or Recurrence.
	Start string `yaml:"start"`
	End   string `yaml:"end"`
	// Recurrence makes the window recurring in the site's time zone.
	Recurrence *Recurrence `yaml:"recurrence"`
	// AllowedOperations are the operations the window allows.
	AllowedOperations []string `yaml:"allowed_operations"`
	// AllowedSources are the asset ids allowed to do the work; empty allows
	// any source.
	AllowedSources []string `yaml:"allowed_sources"`
	// AllowedUsers are the accounts allowed to do the work; empty allows any
	// account.
	AllowedUsers []string `yaml:"allowed_users"`
}

// Recurrence is a weekly schedule in the site's time zone: the window opens
// at Start (local wall-clock time) on each of Weekdays and stays open for
// Duration of elapsed time. From and Until (local dates, inclusive) bound the
// days on which it opens. Across a DST change the opening follows the local
// wall clock (06:00 stays 06:00) and the window lasts Duration of real time.
// A Start that does not exist on a spring-forward day is shifted forward by
// the length of the gap (02:30 in Europe/Berlin opens at 03:30 CEST).
type Recurrence struct {
	// Weekdays are english day names or their three-letter abbreviations
	// (monday or mon, ...), case-insensitive.
	Weekdays []string `yaml:"weekdays"`
	// Start is the local opening time, "HH:MM".
	Start string `yaml:"start"`
	// Duration is how long each occurrence stays open (Go duration, e.g.
	// 4h or 90m; more than 0 and at most 7 days).
	Duration string `yaml:"duration"`
	// From is the first local date (YYYY-MM-DD) on which the window may open;
	// "" means no bound.
	From string `yaml:"from"`
	// Until is the last local date (YYYY-MM-DD) on which the window may open;
	// "" means no bound.
	Until string `yaml:"until"`
}

// Scope selects the zones and assets a maintenance window covers.
type Scope struct {
	// Zones are zone ids; the window covers every address in them.
	Zones []string `yaml:"zones"`
	// Assets are asset ids.
	Assets []string `yaml:"assets"`
}

// ZoneKinds are the zone kinds.
var ZoneKinds = []string{
	"enterprise", "dmz", "operations", "supervisory", "control", "safety",
	"field", "remote_access", "wireless", "transient", "vendor",
}

// Roles are the asset roles.
var Roles = []string{
	"plc", "rtu", "dcs_controller", "pac", "sis", "ied", "hmi", "ews",
	"historian", "scada_server", "opc_server", "jump_host", "firewall",
	"switch", "router", "data_diode", "ot_sensor", "domain_controller",
	"server", "workstation", "iot", "unknown",
}

// OperationNames are the normalized OT operations flows and maintenance
// windows may name.
var OperationNames = []string{
	"read", "write", "write_multiple", "select", "operate", "direct_operate",
	"set_attribute", "force", "program_download", "program_upload",
	"online_edit", "mode_change", "firmware_update", "firmware_update_mode",
	"restart", "cold_restart", "warm_restart",
}

// Criticalities are the criticality ratings, highest first.
var Criticalities = []string{"critical", "high", "medium", "low"}

// EnforcementTypes are the kinds of conduit enforcement devices.
var EnforcementTypes = []string{"firewall", "data_diode", "ids", "gateway", "vpn"}

// Transports are the transport protocols a flow may name.
var Transports = []string{"tcp", "udp", "icmp"}

// EntityClasses are the NIS2 entity classes.
var EntityClasses = []string{"essential", "important", "out_of_scope"}
