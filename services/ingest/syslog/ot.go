package syslog

import (
	"strconv"
	"strings"
)

// The shared OT operation vocabulary written to Event.Operation. Every
// format maps its protocol function codes and vendor fields onto these
// values (docs/FORMATS.md has the tables); correlation rules match them
// (write_ops, engineering_ops).
const (
	OpRead            = "read"
	OpWrite           = "write"
	OpWriteMultiple   = "write_multiple"
	OpOperate         = "operate"
	OpDirectOperate   = "direct_operate"
	OpSetAttribute    = "set_attribute"
	OpProgramDownload = "program_download"
	OpProgramUpload   = "program_upload"
	OpOnlineEdit      = "online_edit"
	OpModeChange      = "mode_change"
	OpFirmwareUpdate  = "firmware_update"
	OpRestart         = "restart"
	OpColdRestart     = "cold_restart"
	OpWarmRestart     = "warm_restart"
	OpDiagnostics     = "diagnostics"
	OpNewAsset        = "new_asset"
)

// modbusOp maps a Modbus function code to an operation.
func modbusOp(code int) string {
	switch code {
	case 1, 2, 3, 4, 7, 11, 12, 17, 20, 24, 43:
		return OpRead
	case 5, 6, 21, 22:
		return OpWrite
	case 15, 16, 23:
		return OpWriteMultiple
	case 8:
		return OpDiagnostics
	}
	return ""
}

// modbusNameOp maps a Modbus function name (Zeek's READ_HOLDING_REGISTERS,
// Suricata's RdHoldRegs, ...) to an operation.
func modbusNameOp(name string) string {
	n := strings.ToLower(strings.ReplaceAll(name, "_", ""))
	switch {
	case n == "":
		return ""
	case strings.HasPrefix(n, "readwrite"), strings.HasPrefix(n, "rdwr"),
		strings.HasPrefix(n, "writemultiple"), strings.HasPrefix(n, "wrmult"):
		return OpWriteMultiple
	case strings.Contains(n, "write"), strings.HasPrefix(n, "wr"), strings.HasPrefix(n, "maskwr"):
		return OpWrite
	case strings.HasPrefix(n, "read"), strings.HasPrefix(n, "rd"):
		return OpRead
	case strings.HasPrefix(n, "diag"):
		return OpDiagnostics
	}
	return ""
}

// dnp3Ops maps DNP3 application function codes (IEEE 1815) by number.
var dnp3Ops = map[int]string{
	1: OpRead, 2: OpWrite, 3: OpOperate, 4: OpOperate, 5: OpDirectOperate, 6: OpDirectOperate,
	13: OpColdRestart, 14: OpWarmRestart, 16: OpRestart, 17: OpModeChange, 18: OpModeChange,
}

// dnp3NameOps maps the DNP3 function code names Zeek and Suricata log.
var dnp3NameOps = map[string]string{
	"READ": OpRead, "WRITE": OpWrite, "SELECT": OpOperate, "OPERATE": OpOperate,
	"DIRECT_OPERATE": OpDirectOperate, "DIRECT_OPERATE_NR": OpDirectOperate,
	"COLD_RESTART": OpColdRestart, "WARM_RESTART": OpWarmRestart, "INITIALIZE_APPL": OpRestart,
	"START_APPL": OpModeChange, "STOP_APPL": OpModeChange,
}

// dnp3Op maps a DNP3 function code given as a number or a name.
func dnp3Op(v string) string {
	if n, err := strconv.Atoi(v); err == nil {
		return dnp3Ops[n]
	}
	return dnp3NameOps[strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(v), " ", "_"))]
}

// cipOps maps the CIP services whose meaning does not depend on the
// object class.
var cipOps = map[int]string{
	0x01: OpRead, 0x03: OpRead, 0x0e: OpRead, // Get_Attributes_All/List/Single
	0x02: OpSetAttribute, 0x04: OpSetAttribute, 0x10: OpSetAttribute, // Set_Attributes_All/List/Single
	0x05: OpRestart,                        // Reset
	0x06: OpModeChange, 0x07: OpModeChange, // Start, Stop
	0x4c: OpRead,                 // Read_Tag (Logix symbol object)
	0x4d: OpWrite, 0x53: OpWrite, // Write_Tag, Write_Tag_Fragmented
}

// cipNameOps maps CIP service names (ICSNPP-ENIP, Suricata).
var cipNameOps = map[string]string{
	"get_attributes_all": OpRead, "get_attribute_list": OpRead, "get_attribute_single": OpRead,
	"set_attributes_all": OpSetAttribute, "set_attribute_list": OpSetAttribute, "set_attribute_single": OpSetAttribute,
	"reset": OpRestart, "start": OpModeChange, "stop": OpModeChange,
	"read_tag": OpRead, "read_tag_fragmented": OpRead, "read_tag_service": OpRead,
	"write_tag": OpWrite, "write_tag_fragmented": OpWrite, "write_tag_service": OpWrite,
	"read_modify_write_tag": OpWrite,
}

// cipOp maps a CIP service given as a number (decimal or 0x hex) or name.
func cipOp(v string) string {
	v = strings.TrimSpace(v)
	if n, err := strconv.ParseInt(v, 0, 32); err == nil {
		return cipOps[int(n&0x7f)] // bit 7 marks a reply
	}
	return cipNameOps[snake(v)]
}

// s7Ops maps S7comm job function codes.
var s7Ops = map[int]string{
	0x04: OpRead, 0x05: OpWrite,
	0x1a: OpProgramDownload, 0x1b: OpProgramDownload, 0x1c: OpProgramDownload,
	0x1d: OpProgramUpload, 0x1e: OpProgramUpload, 0x1f: OpProgramUpload,
	0x28: OpModeChange, 0x29: OpModeChange,
}

// s7NameOps maps the S7comm function names ICSNPP-S7comm logs.
var s7NameOps = map[string]string{
	"read_var": OpRead, "read_variable": OpRead, "write_var": OpWrite, "write_variable": OpWrite,
	"request_download": OpProgramDownload, "download_block": OpProgramDownload, "download_ended": OpProgramDownload,
	"start_upload": OpProgramUpload, "upload": OpProgramUpload, "end_upload": OpProgramUpload,
	"plc_control": OpModeChange, "plc_stop": OpModeChange,
}

// s7Op maps an S7comm function given as a number or a name.
func s7Op(v string) string {
	v = strings.TrimSpace(v)
	if n, err := strconv.ParseInt(v, 0, 32); err == nil {
		return s7Ops[int(n)]
	}
	return s7NameOps[snake(v)]
}

// opSynonymsTable is opSynonyms as an internTable.
var opSynonymsTable = newInternTable(opSynonyms)

// opSynonyms normalizes operation values that vendors put in explicit
// operation fields.
var opSynonyms = map[string]string{
	"read": OpRead, "write": OpWrite, "write_multiple": OpWriteMultiple,
	"operate": OpOperate, "direct_operate": OpDirectOperate, "set_attribute": OpSetAttribute,
	"program_download": OpProgramDownload, "download": OpProgramDownload, "code_download": OpProgramDownload,
	"program_upload": OpProgramUpload, "upload": OpProgramUpload, "code_upload": OpProgramUpload,
	"online_edit": OpOnlineEdit, "mode_change": OpModeChange, "plc_stop": OpModeChange, "plc_start": OpModeChange,
	"stop": OpModeChange, "run": OpModeChange, "firmware_update": OpFirmwareUpdate, "firmware_download": OpFirmwareUpdate,
	"restart": OpRestart, "reboot": OpRestart, "cold_restart": OpColdRestart, "warm_restart": OpWarmRestart,
	"new_asset": OpNewAsset, "new_node": OpNewAsset, "new_device": OpNewAsset, "diagnostics": OpDiagnostics,
	"force": "force",
}

// normalizeOp normalizes an explicit operation value: lower case, spaces
// and dashes as '_', vendor synonyms mapped; unknown values are kept in
// that normalized form so no information is lost.
func normalizeOp(v string) string {
	v = trimSpace(v)
	if v == "" {
		return ""
	}
	n := snake(v)
	if op, ok := opSynonymsTable.get(n); ok {
		return op
	}
	return n
}

// snake lower-cases s and writes spaces, dashes and colons as '_'; it
// returns s itself when nothing changes.
func snake(s string) string {
	i := 0
	for i < len(s) && !snakeBytes[s[i]] {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'A' && c <= 'Z':
			b[i] = c + 'a' - 'A'
		case c == ' ' || c == '-' || c == ':':
			b[i] = '_'
		}
	}
	return string(b)
}

// snakeBytes marks the bytes snake changes.
var snakeBytes = func() (t [256]bool) {
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	t[' '], t['-'], t[':'] = true, true, true
	return t
}()

// opPhrases classify free-text event names of OT sensors (CEF/LEEF names,
// Nozomi type ids, FortiGate OT application names). They are checked in
// order; the first phrase contained in the lower-cased, '_'-joined text
// wins.
var opPhrases = []struct{ phrase, op string }{
	{"firmware", OpFirmwareUpdate},
	{"online_edit", OpOnlineEdit},
	{"program_download", OpProgramDownload}, {"download_program", OpProgramDownload},
	{"code_download", OpProgramDownload}, {"project_download", OpProgramDownload}, {"logic_download", OpProgramDownload},
	{"program_upload", OpProgramUpload}, {"upload_program", OpProgramUpload},
	{"code_upload", OpProgramUpload}, {"project_upload", OpProgramUpload}, {"logic_upload", OpProgramUpload},
	{"cold_restart", OpColdRestart}, {"warm_restart", OpWarmRestart},
	{"mode_change", OpModeChange}, {"state_change", OpModeChange}, {"plc_stop", OpModeChange},
	{"plc_run", OpModeChange}, {"stop_command", OpModeChange}, {"run_command", OpModeChange},
	{"new_asset", OpNewAsset}, {"new_node", OpNewAsset}, {"new_device", OpNewAsset},
	{"restart", OpRestart}, {"reboot", OpRestart},
	{"write_multiple", OpWriteMultiple}, {"write", OpWrite},
	{"read", OpRead},
}

// phraseOp classifies a free-text name with opPhrases.
func phraseOp(text string) string {
	if text == "" {
		return ""
	}
	var b strings.Builder
	b.Grow(len(text))
	prevSep := true
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
			prevSep = false
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			b.WriteByte(c)
			prevSep = false
		default:
			if !prevSep {
				b.WriteByte('_')
				prevSep = true
			}
		}
	}
	n := b.String()
	for _, p := range opPhrases {
		if containsWord(n, p.phrase) {
			return p.op
		}
	}
	return ""
}

// containsWord reports whether phrase occurs in s ('_'-joined words) on
// word boundaries.
func containsWord(s, phrase string) bool {
	for off := 0; off < len(s); {
		i := strings.Index(s[off:], phrase)
		if i < 0 {
			return false
		}
		i += off
		end := i + len(phrase)
		if (i == 0 || s[i-1] == '_') && (end == len(s) || s[end] == '_') {
			return true
		}
		off = i + 1
	}
	return false
}
