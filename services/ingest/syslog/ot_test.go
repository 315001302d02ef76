package syslog

import "testing"

// TestOperationMapping checks the protocol function tables and the
// vendor normalization of the OT operation vocabulary.
func TestOperationMapping(t *testing.T) {
	tests := []struct {
		name string
		fn   func(string) string
		in   string
		want string
	}{
		{"modbus name read holding", modbusNameOp, "READ_HOLDING_REGISTERS", OpRead},
		{"modbus name write single", modbusNameOp, "WRITE_SINGLE_COIL", OpWrite},
		{"modbus name write multiple", modbusNameOp, "WRITE_MULTIPLE_REGISTERS", OpWriteMultiple},
		{"modbus name read/write", modbusNameOp, "READ_WRITE_MULTIPLE_REGISTERS", OpWriteMultiple},
		{"modbus name mask write", modbusNameOp, "MASK_WRITE_REGISTER", OpWrite},
		{"modbus suricata WrMultRegs", modbusNameOp, "WrMultRegs", OpWriteMultiple},
		{"modbus suricata RdCoils", modbusNameOp, "RdCoils", OpRead},
		{"modbus diagnostics", modbusNameOp, "DIAGNOSTICS", OpDiagnostics},
		{"modbus unknown name", modbusNameOp, "ENCAP_INTERFACE_TRANSPORT", ""},
		{"dnp3 1", dnp3Op, "1", OpRead},
		{"dnp3 direct operate nr", dnp3Op, "6", OpDirectOperate},
		{"dnp3 cold restart name", dnp3Op, "COLD_RESTART", OpColdRestart},
		{"dnp3 warm restart number", dnp3Op, "14", OpWarmRestart},
		{"dnp3 stop appl", dnp3Op, "STOP_APPL", OpModeChange},
		{"dnp3 response", dnp3Op, "129", ""},
		{"dnp3 response name", dnp3Op, "RESPONSE", ""},
		{"cip write tag hex", cipOp, "0x4d", OpWrite},
		{"cip write tag reply bit", cipOp, "0xcd", OpWrite},
		{"cip get attribute single decimal", cipOp, "14", OpRead},
		{"cip stop name", cipOp, "Stop", OpModeChange},
		{"cip set attribute name", cipOp, "Set_Attribute_Single", OpSetAttribute},
		{"cip reset", cipOp, "0x05", OpRestart},
		{"cip class specific", cipOp, "0x52", ""},
		{"s7 request download", s7Op, "Request Download", OpProgramDownload},
		{"s7 upload code", s7Op, "0x1e", OpProgramUpload},
		{"s7 plc stop", s7Op, "0x29", OpModeChange},
		{"s7 write var name", s7Op, "Write Var", OpWrite},
		{"s7 setup communication", s7Op, "0xf0", ""},
		{"vendor download", normalizeOp, "Download", OpProgramDownload},
		{"vendor firmware update spaced", normalizeOp, "Firmware Update", OpFirmwareUpdate},
		{"vendor plc stop", normalizeOp, "PLC-Stop", OpModeChange},
		{"vendor unknown kept", normalizeOp, "Clear Event Log", "clear_event_log"},
		{"vendor empty", normalizeOp, "  ", ""},
		{"phrase nozomi program download", phraseOp, "SIGN:PROGRAM:DOWNLOAD", OpProgramDownload},
		{"phrase new node", phraseOp, "VI:NEW-NODE", OpNewAsset},
		{"phrase firmware", phraseOp, "Firmware transfer to PLC", OpFirmwareUpdate},
		{"phrase fortigate write", phraseOp, "Modbus_Write.Single.Register", OpWrite},
		{"phrase cold restart", phraseOp, "DNP3 Cold Restart request", OpColdRestart},
		{"phrase mode change", phraseOp, "PLC mode change", OpModeChange},
		{"phrase word boundary", phraseOp, "Rewrite of configuration", ""},
		{"phrase nothing", phraseOp, "Port scan detected", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.fn(tt.in); got != tt.want {
				t.Errorf("%q -> %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	for code, want := range map[int]string{1: OpRead, 4: OpRead, 5: OpWrite, 6: OpWrite, 15: OpWriteMultiple, 16: OpWriteMultiple, 23: OpWriteMultiple, 8: OpDiagnostics, 99: ""} {
		if got := modbusOp(code); got != want {
			t.Errorf("modbusOp(%d) = %q, want %q", code, got, want)
		}
	}
}

// TestSeverityMapping checks the mappings onto the syslog scale.
func TestSeverityMapping(t *testing.T) {
	for n, want := range []int{6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1} {
		if got := tenScaleSeverity(n); got != want {
			t.Errorf("tenScaleSeverity(%d) = %d, want %d", n, got, want)
		}
	}
	cef := []struct {
		in   string
		want int
		ok   bool
	}{{"0", 6, true}, {"10", 1, true}, {"Low", 5, true}, {"medium", 4, true}, {"High", 3, true}, {"Very-High", 2, true},
		{"Unknown", -1, true}, {"11", 0, false}, {"-1", 0, false}, {"urgent", 0, false}}
	for _, c := range cef {
		if got, ok := cefSeverity(c.in); got != c.want || ok != c.ok {
			t.Errorf("cefSeverity(%q) = %d %v, want %d %v", c.in, got, ok, c.want, c.ok)
		}
	}
	for in, want := range map[string]int{"1": 2, "2": 3, "3": 4, "4": 5, "": 5} {
		if got := eveSeverity(in); got != want {
			t.Errorf("eveSeverity(%q) = %d, want %d", in, got, want)
		}
	}
	for in, want := range map[string]int{"emergency": 0, "alert": 1, "Critical": 2, "error": 3, "warning": 4, "notice": 5, "information": 6, "debug": 7, "bogus": -1} {
		if got := namedSeverity(in); got != want {
			t.Errorf("namedSeverity(%q) = %d, want %d", in, got, want)
		}
	}
}

// TestValueNormalizers checks the normalizers of mapped fields.
func TestValueNormalizers(t *testing.T) {
	tests := []struct {
		name string
		fn   func(string) (string, bool)
		in   string
		want string
		ok   bool
	}{
		{"mac colon lower kept", parseMAC, "00:1d:9c:c7:b0:11", "00:1d:9c:c7:b0:11", true},
		{"mac upper dashes", parseMAC, "AA-BB-CC-DD-EE-FF", "aa:bb:cc:dd:ee:ff", true},
		{"mac cisco dots", parseMAC, "001d.9cc7.b011", "00:1d:9c:c7:b0:11", true},
		{"mac mixed separators", parseMAC, "00:1d-9c:c7:b0:11", "", false},
		{"mac too short", parseMAC, "00:1d", "", false},
		{"mac empty", parseMAC, "", "", false},
		{"mac eui64 rejected", parseMAC, "00:1d:9c:ff:fe:c7:b0:11", "", false},
		{"ipv4", parseIP, "10.20.1.11", "10.20.1.11", true},
		{"ipv4 leading zero", parseIP, "10.020.1.11", "", false},
		{"ipv6 canonicalized", parseIP, "2001:DB8:0:0::1", "2001:db8::1", true},
		{"ipv4-mapped unmapped", parseIP, "::ffff:10.20.1.11", "10.20.1.11", true},
		{"port", parsePort, "502", "502", true},
		{"port leading zero canonicalized", parsePort, "0502", "502", true},
		{"port zero", parsePort, "0", "", false},
		{"port too big", parsePort, "65536", "", false},
		{"proto number", parseProto, "6", "tcp", true},
		{"proto upper", parseProto, "UDP", "udp", true},
		{"count", parseCount, "1200", "1200", true},
		{"count negative", parseCount, "-1", "", false},
		{"lower known", lower, "ENIP", "enip", true},
		{"lower unknown", lower, "MyProto", "myproto", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.fn(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("%q -> %q %v, want %q %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}
