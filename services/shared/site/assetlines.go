package site

import (
	"bytes"
	"strconv"
	"strings"
)

// splitAssets is the fast path of fastDecode for the bulk of a large
// inventory: an asset list written one flow mapping per line, as the CSV
// import and inventory exports write it:
//
//	assets:
//	  - {id: s/plc-1, role: plc, ips: [10.0.1.10], macs: ["00:1d:9c:c0:04:9d"]}
//
// It decodes those lines itself, more than ten times faster than go.yaml.in/yaml/v3,
// and returns data with the list replaced by "assets: []" for the YAML
// decoder. It accepts only a subset on whose meaning the YAML decoders
// cannot differ, and reports false for anything else — a key it does not
// know, a duplicate key, a single-quoted or escaped string, a plain scalar
// that YAML could read as something other than a string, an empty list —
// so that the whole document takes the YAML path. line is the line of
// "assets: []" in rest: the caller must check that the YAML decoder reads
// it as the root mapping's key (and not, say, as part of a multi-line
// string). TestDecodersAgree and
// FuzzDecoders check the result against the shared config decoder.
func splitAssets(data []byte) (rest []byte, assets []Asset, line int, ok bool) {
	if bytes.IndexByte(data, '\r') >= 0 || bytes.IndexByte(data, '\t') >= 0 {
		return nil, nil, 0, false
	}
	start := 0
	if !bytes.HasPrefix(data, []byte("assets:\n")) {
		i := bytes.Index(data, []byte("\nassets:\n"))
		if i < 0 {
			return nil, nil, 0, false
		}
		start = i + 1
	}
	pos := start + len("assets:\n")
	// At most one asset per line: allocate the list once (an inventory of
	// a million assets spends much of its decoding time growing it).
	assets = make([]Asset, 0, bytes.Count(data[pos:], []byte("\n"))+1)
	indent := -1
	for pos < len(data) {
		end := bytes.IndexByte(data[pos:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += pos
		}
		line := data[pos:end]
		trimmed := bytes.TrimLeft(line, " ")
		if len(trimmed) == 0 || trimmed[0] == '#' {
			pos = end + 1
			continue
		}
		if len(trimmed) == len(line) && trimmed[0] != '-' {
			break // the next top-level key
		}
		ind := len(line) - len(trimmed)
		if indent < 0 {
			indent = ind
		}
		trimmed = bytes.TrimRight(trimmed, " ")
		if ind != indent || !bytes.HasPrefix(trimmed, []byte("- {")) || trimmed[len(trimmed)-1] != '}' {
			return nil, nil, 0, false
		}
		var a Asset
		if !parseAssetLine(string(trimmed[3:len(trimmed)-1]), &a) {
			return nil, nil, 0, false
		}
		assets = append(assets, a)
		pos = end + 1
	}
	if len(assets) == 0 {
		return nil, nil, 0, false
	}
	if pos > len(data) {
		pos = len(data)
	}
	rest = make([]byte, 0, start+len("assets: []\n")+len(data)-pos)
	rest = append(rest, data[:start]...)
	rest = append(rest, "assets: []\n"...)
	rest = append(rest, data[pos:]...)
	return rest, assets, bytes.Count(data[:start], []byte("\n")) + 1, true
}

// parseAssetLine decodes the inside of a one-line flow mapping into a.
func parseAssetLine(s string, a *Asset) bool {
	var seen uint16
	for {
		s = strings.TrimLeft(s, " ")
		colon := strings.Index(s, ": ")
		if colon <= 0 {
			return false
		}
		key := s[:colon]
		s = s[colon+2:]
		bit, ok := assetKeys[key]
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		s = strings.TrimLeft(s, " ")
		var list []string
		var scalar string
		var plain bool
		if strings.HasPrefix(s, "[") {
			if list, s, ok = flowList(s[1:]); !ok {
				return false
			}
		} else if scalar, plain, s, ok = flowScalar(s, false); !ok {
			return false
		}
		if !setAssetField(a, key, list, scalar, plain) {
			return false
		}
		s = strings.TrimLeft(s, " ")
		if s == "" {
			return true
		}
		if s[0] != ',' {
			return false
		}
		s = s[1:]
	}
}

// assetKeys are the asset fields the line decoder knows, as bits.
var assetKeys = map[string]uint16{
	"id": 1 << 0, "name": 1 << 1, "role": 1 << 2, "zone": 1 << 3, "ips": 1 << 4,
	"macs": 1 << 5, "hostname": 1 << 6, "hostnames": 1 << 7, "vendor": 1 << 8,
	"model": 1 << 9, "firmware": 1 << 10, "criticality": 1 << 11, "safety": 1 << 12,
	"purdue_level": 1 << 13,
}

func setAssetField(a *Asset, key string, list []string, scalar string, plain bool) bool {
	isList := list != nil
	switch key {
	case "ips", "macs", "hostnames":
		if !isList {
			return false
		}
		switch key {
		case "ips":
			a.IPs = list
		case "macs":
			a.MACs = list
		default:
			a.Hostnames = list
		}
		return true
	case "safety":
		if isList || !plain || (scalar != "true" && scalar != "false") {
			return false
		}
		a.Safety = scalar == "true"
		return true
	case "purdue_level":
		if isList || !plain || !isDecimal(scalar, true) {
			return false
		}
		f, err := strconv.ParseFloat(scalar, 64)
		if err != nil {
			return false
		}
		a.PurdueLevel = &f
		return true
	}
	if isList || (plain && !plainString(scalar)) {
		return false
	}
	f := a.stringField(key)
	if f == nil {
		return false
	}
	*f = scalar
	return true
}

// stringField returns the asset's string field whose YAML (and CSV column)
// name is key, or nil when key names no string field.
func (a *Asset) stringField(key string) *string {
	switch key {
	case "id":
		return &a.ID
	case "name":
		return &a.Name
	case "role":
		return &a.Role
	case "zone":
		return &a.Zone
	case "hostname":
		return &a.Hostname
	case "vendor":
		return &a.Vendor
	case "model":
		return &a.Model
	case "firmware":
		return &a.Firmware
	case "criticality":
		return &a.Criticality
	}
	return nil
}

// flowList reads the items of a flow sequence whose "[" is consumed, up to
// and including its "]"; every item must be a string (see plainString) and
// the list must not be empty.
func flowList(s string) (items []string, rest string, ok bool) {
	for {
		s = strings.TrimLeft(s, " ")
		item, plain, r, ok := flowScalar(s, true)
		if !ok || (plain && !plainString(item)) {
			return nil, "", false
		}
		items = append(items, item)
		s = strings.TrimLeft(r, " ")
		if s == "" {
			return nil, "", false
		}
		switch s[0] {
		case ']':
			return items, s[1:], true
		case ',':
			s = s[1:]
		default:
			return nil, "", false
		}
	}
}

// flowScalar reads a scalar at the start of s: a double-quoted string of
// printable ASCII without escapes, or a plain scalar of the characters
// plainChar up to the next "," (or "]" in a list), trailing spaces removed.
func flowScalar(s string, inList bool) (value string, plain bool, rest string, ok bool) {
	if strings.HasPrefix(s, `"`) {
		end := strings.IndexByte(s[1:], '"')
		if end < 0 {
			return "", false, "", false
		}
		v := s[1 : end+1]
		if strings.IndexByte(v, '\\') >= 0 || !isPrintableASCII(v) {
			return "", false, "", false
		}
		return v, false, s[end+2:], true
	}
	i := 0
	for i < len(s) && s[i] != ',' && !(inList && s[i] == ']') {
		if !plainChar(s[i]) {
			return "", false, "", false
		}
		i++
	}
	v := strings.TrimRight(s[:i], " ")
	if v == "" {
		return "", false, "", false
	}
	return v, true, s[i:], true
}

// plainChar reports whether c may appear in a plain scalar of the line
// decoder: letters, digits, ".", "_", "/", "-" and inner spaces.
func plainChar(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '/' || c == '-' || c == ' '
}

// plainString reports whether the plain scalar v (of plainChar characters)
// is a string for every YAML decoder: it starts with a letter and is not a
// word YAML reads as a bool or null, or it starts with a digit and has two
// dots or more (an IPv4 address, a version: not a number or a date).
func plainString(v string) bool {
	if v == "" || v[0] == ' ' {
		return false
	}
	c := v[0]
	switch {
	case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		switch strings.ToLower(v) {
		case "y", "n", "yes", "no", "on", "off", "true", "false", "null":
			return false
		}
		return true
	case '0' <= c && c <= '9':
		if strings.Count(v, ".") < 2 {
			return false
		}
		for i := 0; i < len(v); i++ {
			if c := v[i]; c != '.' && (c < '0' || c > '9') {
				return false
			}
		}
		return true
	}
	return false
}
