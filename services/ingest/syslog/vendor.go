package syslog

import (
	"math/bits"
	"strings"

	"github.com/c981/c981/services/shared/event"
)

// Keys of OT sensor alerts (CEF extension keys, normalized custom-field
// labels, LEEF attributes) that carry the OT operation, MITRE ATT&CK
// techniques and the application protocol, in order of preference.
var (
	vendorOpKeys        = []string{"ot_operation", "operation", "op", "operation_type", "function_name", "command_name"}
	vendorTechniqueKeys = []string{"techniques", "technique", "mitre_technique", "mitre_technique_id", "mitre_techniques", "mitre_attack_technique", "attack_technique"}
	vendorProtoKeys     = []string{"app_proto", "protocol", "ot_protocol", "app"}
)

// The vendor key lists as keyLists (hot keys read without lookups).
var (
	vendorCategoryList  = newKeyList("category", "cat")
	vendorTechniqueList = newKeyList(vendorTechniqueKeys...)
	vendorProtoList     = newKeyList(vendorProtoKeys...)
	vendorOpList        = newKeyList(vendorOpKeys...)
)

// vendorOT fills the OT fields of a vendor alert (CEF, LEEF): Kind
// (alert, or auth for an authentication category), Techniques,
// AppProto and Operation — from an explicit operation field, else from
// the event name or signature id (see phraseOp).
func vendorOT(ev *event.Event, fv fieldView) {
	ev.Kind = event.KindAlert
	if strings.EqualFold(fv.firstOf(vendorCategoryList, keep), CategoryAuthentication) {
		ev.Kind = event.KindAuth
	}
	if l := vendorTechniqueList; l.allHot && fv.hotVals() {
		// Only the hot keys present, without a lookup each, in list
		// order (TestVendorKeysHotOrder).
		for set := fv.as.hotSet & l.mask; set != 0; set &= set - 1 {
			h := bits.TrailingZeros64(set)
			if v := fv.as.hotVal[fv.as.hotIdx[h]]; v != "" {
				ev.Techniques = appendTechniques(ev.Techniques, v)
			}
		}
	} else {
		for i := range l.keys {
			if v := fv.getAt(l, i); v != "" {
				ev.Techniques = appendTechniques(ev.Techniques, v)
			}
		}
	}
	if ev.AppProto == "" {
		ev.AppProto = fv.firstOf(vendorProtoList, lower)
	}
	if ev.Operation == "" {
		ev.Operation = vendorOp(fv)
	}
	if ev.Operation == "" {
		ev.Operation = phraseOp(ev.Signature)
	}
	if ev.Operation == "" {
		ev.Operation = phraseOp(ev.SignatureID)
	}
}

// vendorOp is fv.firstOf(vendorOpList, parseOp), reusing the
// normalization of the operation alias for the same value (a record's
// "operation" is usually both).
func vendorOp(fv fieldView) string {
	l := vendorOpList
	if !l.allHot || !fv.hotVals() {
		return fv.firstOf(l, parseOp)
	}
	// The hot bits in list order (TestVendorKeysHotOrder).
	for set := fv.as.hotSet & l.mask; set != 0; set &= set - 1 {
		v := trimSpace(fv.as.hotVal[fv.as.hotIdx[bits.TrailingZeros64(set)]])
		if v != "" && v == fv.as.opRaw {
			return fv.as.opNorm
		}
		if n, ok := parseOp(v); ok {
			return n
		}
	}
	return ""
}

// appendTechniques appends the MITRE ATT&CK ids (T0843, T1078.002) found
// in v, separated by commas, semicolons or spaces, skipping duplicates.
func appendTechniques(dst []string, v string) []string {
	for v != "" {
		i := 0 // strings.IndexAny(v, ",; |\t") without building its set
		for i < len(v) && !techniqueSeps[v[i]] {
			i++
		}
		if i == len(v) {
			i = -1
		}
		tok := v
		if i >= 0 {
			tok, v = v[:i], v[i+1:]
		} else {
			v = ""
		}
		if len(tok) > 0 && tok[0] == 't' {
			tok = strings.ToUpper(tok)
		}
		if !isTechnique(tok) {
			continue
		}
		dup := false
		for _, t := range dst {
			dup = dup || t == tok
		}
		if !dup {
			dst = append(dst, tok)
		}
	}
	return dst
}

// techniqueSeps marks the bytes that separate technique ids.
var techniqueSeps = [256]bool{',': true, ';': true, ' ': true, '|': true, '\t': true}

// isTechnique checks "T" + 4 digits, optionally "." + 3 digits.
func isTechnique(s string) bool {
	if len(s) != 5 && len(s) != 9 || s[0] != 'T' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if i == 5 {
			if s[i] != '.' {
				return false
			}
			continue
		}
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// sortStrings sorts a short slice in place (insertion sort: no
// allocation, the slices hold a few technique ids).
func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
