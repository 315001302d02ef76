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
	// Start and End bound the window (RFC 3339, end exclusive).
	Start string `yaml:"start"`
	End   string `yaml:"end"`
	// AllowedOperations are the operations the window allows.
	AllowedOperations []string `yaml:"allowed_operations"`
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
