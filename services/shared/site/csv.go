package site

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// CSVColumns maps the accepted CSV header names (lower-cased, with spaces
// and dashes read as '_') to the asset field they fill. The aliases cover the
// usual asset exports of OT network sensors; docs/SITE-MODEL.md documents the
// mapping.
var CSVColumns = map[string]string{
	"id": "id", "asset_id": "id",
	"name": "name", "asset_name": "name", "label": "name", "display_name": "name",
	"role": "role", "type": "role", "asset_type": "role", "device_type": "role", "category": "role",
	"zone": "zone", "zone_id": "zone",
	"ip": "ips", "ips": "ips", "ip_address": "ips", "ip_addresses": "ips", "ipv4": "ips",
	"mac": "macs", "macs": "macs", "mac_address": "macs", "mac_addresses": "macs",
	"hostname": "hostname", "host": "hostname", "host_name": "hostname", "dns_name": "hostname",
	"hostnames": "hostnames", "aliases": "hostnames",
	"vendor": "vendor", "manufacturer": "vendor",
	"model": "model", "product": "model", "product_name": "model",
	"firmware": "firmware", "firmware_version": "firmware", "fw_version": "firmware", "os_version": "firmware",
	"criticality":  "criticality",
	"safety":       "safety",
	"purdue_level": "purdue_level", "level": "purdue_level",
}

// CSVRoles maps sensor device types (lower-cased, spaces and dashes as '_')
// to asset roles; a value that is already a role is kept, anything else
// becomes "unknown".
var CSVRoles = map[string]string{
	"controller": "plc", "programmable_logic_controller": "plc", "plc": "plc",
	"remote_terminal_unit": "rtu", "dcs": "dcs_controller", "dcs_controller": "dcs_controller",
	"safety_controller": "sis", "safety_instrumented_system": "sis", "sis": "sis",
	"intelligent_electronic_device": "ied", "protection_relay": "ied", "relay": "ied",
	"human_machine_interface": "hmi", "operator_station": "hmi", "operator_workstation": "hmi",
	"engineering_workstation": "ews", "engineering_station": "ews",
	"scada": "scada_server", "scada_server": "scada_server",
	"opc": "opc_server", "opc_server": "opc_server", "opc_ua_server": "opc_server",
	"jump_server": "jump_host", "jumphost": "jump_host",
	"sensor": "ot_sensor", "network_sensor": "ot_sensor",
	"domain_controller": "domain_controller", "active_directory": "domain_controller",
	"diode": "data_diode", "l3_switch": "switch", "gateway": "router",
	"pc": "workstation", "laptop": "workstation", "iot_device": "iot", "camera": "iot", "printer": "iot",
}

// ImportResult summarizes a CSV import.
type ImportResult struct {
	// Added and Updated count the assets created and the existing assets
	// (matched by id, else by an IP) whose fields the CSV filled.
	Added, Updated int
	// Ignored lists the header names that map to no field.
	Ignored []string
	// Assets are the ids of the added and updated assets, in CSV order.
	Assets []string
}

var slugRe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func csvKey(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.NewReplacer(" ", "_", "-", "_").Replace(s)
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' || r == '|' || r == ' ' })
}

// ImportCSV merges the assets of a CSV file (header row, see CSVColumns) into
// m. A row whose id — or, without an id column, one of whose IPs — matches an
// existing asset updates that asset's fields with the row's non-empty
// values; other rows add assets. An asset without an id gets
// "<site>/<hostname, name or first IP>". Row problems (no usable id, a bad
// safety flag or Purdue level) are returned as "name:line: message", all of
// them; the merged model is not validated (call Validate).
func ImportCSV(m *Model, r io.Reader, name string) (ImportResult, error) {
	var res ImportResult
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return res, fmt.Errorf("%s: empty CSV file (a header row is required)", name)
		}
		return res, fmt.Errorf("%s: %w", name, err)
	}
	fields := make([]string, len(header))
	seenField := map[string]bool{}
	for i, h := range header {
		h = strings.TrimPrefix(h, "\ufeff") // byte order mark of spreadsheet exports
		f, ok := CSVColumns[csvKey(h)]
		if !ok {
			res.Ignored = append(res.Ignored, h)
			continue
		}
		if seenField[f] && f != "ips" && f != "macs" && f != "hostnames" {
			return res, fmt.Errorf("%s:1: columns %q map to the same field %s", name, h, f)
		}
		seenField[f] = true
		fields[i] = f
	}
	if !seenField["id"] && !seenField["ips"] && !seenField["hostname"] && !seenField["name"] {
		return res, fmt.Errorf("%s:1: the header names no id, ip, hostname or name column (known columns: see docs/SITE-MODEL.md)", name)
	}
	byID := map[string]int{}
	byIP := map[netip.Addr]int{}
	for i := range m.Assets {
		byID[m.Assets[i].ID] = i
		for _, s := range m.Assets[i].IPs {
			if ip, err := netip.ParseAddr(s); err == nil {
				byIP[ip.Unmap()] = i
			}
		}
	}
	var errs []error
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			var pe *csv.ParseError
			if errors.As(err, &pe) && pe.Err != csv.ErrFieldCount {
				break // the reader cannot resynchronize reliably
			}
			continue
		}
		line, _ := cr.FieldPos(0)
		var a Asset
		var rowErrs []string
		for i, v := range rec {
			if i >= len(fields) || fields[i] == "" {
				continue
			}
			v = strings.TrimSpace(v)
			if v == "" {
				continue
			}
			switch fields[i] {
			case "role":
				a.Role = csvRole(v)
			case "criticality":
				a.Criticality = strings.ToLower(v)
			case "ips":
				a.IPs = append(a.IPs, splitList(v)...)
			case "macs":
				for _, mac := range splitList(v) {
					if macRe.MatchString(mac) {
						mac = NormalizeMAC(mac)
					}
					a.MACs = append(a.MACs, mac)
				}
			case "hostnames":
				a.Hostnames = append(a.Hostnames, splitList(v)...)
			case "safety":
				b, err := strconv.ParseBool(normalizeBool(v))
				if err != nil {
					rowErrs = append(rowErrs, fmt.Sprintf("safety %q is not true/false/yes/no", v))
				}
				a.Safety = b
			case "purdue_level":
				p, err := strconv.ParseFloat(v, 64)
				if err != nil {
					rowErrs = append(rowErrs, fmt.Sprintf("purdue_level %q is not a number", v))
				} else {
					a.PurdueLevel = &p
				}
			default:
				if f := a.stringField(fields[i]); f != nil {
					*f = v
				}
			}
		}
		// Match an existing asset.
		idx, found := -1, false
		if a.ID != "" {
			idx, found = byID[a.ID]
		} else {
			for _, s := range a.IPs {
				if ip, err := netip.ParseAddr(s); err == nil {
					if idx, found = byIP[ip.Unmap()]; found {
						break
					}
				}
			}
		}
		if !found && a.ID == "" {
			base := a.Hostname
			if base == "" {
				base = a.Name
			}
			if base == "" && len(a.IPs) > 0 {
				base = strings.ReplaceAll(a.IPs[0], ":", "-")
			}
			base = strings.Trim(slugRe.ReplaceAllString(strings.ToLower(base), "-"), "-._")
			if base == "" {
				rowErrs = append(rowErrs, "no id, hostname, name or ip to identify the asset")
			} else {
				a.ID = m.Site.ID + "/" + base
				idx, found = byID[a.ID]
			}
		}
		if len(rowErrs) > 0 {
			errs = append(errs, fmt.Errorf("%s:%d: %s", name, line, strings.Join(rowErrs, "; ")))
			continue
		}
		if found {
			mergeAsset(&m.Assets[idx], &a)
			res.Updated++
			res.Assets = append(res.Assets, m.Assets[idx].ID)
			continue
		}
		if a.Role == "" {
			a.Role = "unknown"
		}
		m.Assets = append(m.Assets, a)
		idx = len(m.Assets) - 1
		byID[a.ID] = idx
		for _, s := range a.IPs {
			if ip, err := netip.ParseAddr(s); err == nil {
				byIP[ip.Unmap()] = idx
			}
		}
		res.Added++
		res.Assets = append(res.Assets, a.ID)
	}
	return res, errors.Join(errs...)
}

func normalizeBool(v string) string {
	switch strings.ToLower(v) {
	case "yes", "y", "x":
		return "true"
	case "no", "n", "-":
		return "false"
	}
	return v
}

func csvRole(v string) string {
	k := csvKey(v)
	if slices.Contains(Roles, k) {
		return k
	}
	if r, ok := CSVRoles[k]; ok {
		return r
	}
	return "unknown"
}

// mergeAsset fills dst with the non-empty fields of src; lists gain the
// values they lack.
func mergeAsset(dst, src *Asset) {
	set := func(d *string, s string) {
		if s != "" {
			*d = s
		}
	}
	set(&dst.Name, src.Name)
	if src.Role != "" && src.Role != "unknown" {
		dst.Role = src.Role
	}
	set(&dst.Zone, src.Zone)
	set(&dst.Hostname, src.Hostname)
	set(&dst.Vendor, src.Vendor)
	set(&dst.Model, src.Model)
	set(&dst.Firmware, src.Firmware)
	set(&dst.Criticality, src.Criticality)
	dst.Safety = dst.Safety || src.Safety
	if src.PurdueLevel != nil {
		dst.PurdueLevel = src.PurdueLevel
	}
	add := func(d *[]string, s []string) {
		for _, v := range s {
			if !slices.Contains(*d, v) {
				*d = append(*d, v)
			}
		}
	}
	add(&dst.IPs, src.IPs)
	add(&dst.MACs, src.MACs)
	add(&dst.Hostnames, src.Hostnames)
}

// AssetsYAML renders assets as a YAML "assets:" section, one flow mapping
// per asset (the layout of deploy/demo/site.yaml), for pasting into or
// replacing the section of a site model file.
func AssetsYAML(assets []Asset) string {
	var b strings.Builder
	b.WriteString("assets:\n")
	q := strconv.Quote
	list := func(vs []string, quote bool) string {
		out := make([]string, len(vs))
		for i, v := range vs {
			out[i] = v
			if quote {
				out[i] = q(v)
			}
		}
		return "[" + strings.Join(out, ", ") + "]"
	}
	for _, a := range assets {
		parts := []string{"id: " + q(a.ID)}
		str := func(k, v string) {
			if v != "" {
				parts = append(parts, k+": "+q(v))
			}
		}
		str("name", a.Name)
		str("role", a.Role)
		str("zone", a.Zone)
		if len(a.IPs) > 0 {
			parts = append(parts, "ips: "+list(a.IPs, true))
		}
		if len(a.MACs) > 0 {
			parts = append(parts, "macs: "+list(a.MACs, true))
		}
		str("hostname", a.Hostname)
		if len(a.Hostnames) > 0 {
			parts = append(parts, "hostnames: "+list(a.Hostnames, true))
		}
		str("vendor", a.Vendor)
		str("model", a.Model)
		str("firmware", a.Firmware)
		str("criticality", a.Criticality)
		if a.Safety {
			parts = append(parts, "safety: true")
		}
		if a.PurdueLevel != nil {
			parts = append(parts, "purdue_level: "+strconv.FormatFloat(*a.PurdueLevel, 'g', -1, 64))
		}
		if len(a.Response.ForbiddenActions) > 0 || len(a.Response.Approvers) > 0 {
			parts = append(parts, "response: {forbidden_actions: "+list(a.Response.ForbiddenActions, false)+", approvers: "+list(a.Response.Approvers, true)+"}")
		}
		b.WriteString("  - {" + strings.Join(parts, ", ") + "}\n")
	}
	return b.String()
}
