package rule

import (
	"github.com/c981/c981/services/shared/event"
)

// ControllerRoles are the asset roles of process controllers, exposed to
// rules as controller_roles.
var ControllerRoles = []string{"plc", "rtu", "dcs_controller", "pac", "sis"}

// WriteOps are the OT operations that change process values, exposed to
// rules as write_ops.
var WriteOps = []string{"write", "write_multiple", "force", "operate", "direct_operate", "set_attribute"}

// EngineeringOps are the OT operations that change controller logic, mode or
// firmware, exposed to rules as engineering_ops.
var EngineeringOps = []string{"program_download", "program_upload", "online_edit", "mode_change", "firmware_update", "firmware_update_mode"}

// Env is the environment every rule expression is compiled against and run
// in. The embedded event's fields are promoted under their expr tag names
// (src_ip, dst.role, ...); the embedded field itself is hidden from rules.
// Env exposes data only: no methods or clients, so expressions cannot have
// side effects.
type Env struct {
	// Src, Dst, Flow and Maint shadow the embedded event's fields of the
	// same names with pointers into it: fetching dst.role then copies a
	// pointer, not the whole Endpoint, which keeps evaluation cheap.
	Src   *event.Endpoint `expr:"src"`
	Dst   *event.Endpoint `expr:"dst"`
	Flow  *event.Flow     `expr:"flow"`
	Maint *event.Maint    `expr:"maint"`

	*event.Event `expr:"-"`

	// ControllerRoles is the controller_roles constant.
	ControllerRoles []string `expr:"controller_roles"`
	// WriteOps is the write_ops constant.
	WriteOps []string `expr:"write_ops"`
	// EngineeringOps is the engineering_ops constant.
	EngineeringOps []string `expr:"engineering_ops"`
}

// set points the environment at ev (nil: no event).
func (e *Env) set(ev *event.Event) {
	e.Event = ev
	if ev == nil {
		e.Src, e.Dst, e.Flow, e.Maint = nil, nil, nil, nil
		return
	}
	e.Src, e.Dst, e.Flow, e.Maint = &ev.Src, &ev.Dst, &ev.Flow, &ev.Maint
}

// newEnv returns an Env with the constants set and no event.
func newEnv() *Env {
	return &Env{
		ControllerRoles: ControllerRoles,
		WriteOps:        WriteOps,
		EngineeringOps:  EngineeringOps,
	}
}
