package syslog

import "strings"

// labelKeyTable interns labelKeys.
var labelKeyTable = func() *internTable {
	m := map[string]string{}
	for _, k := range labelKeys() {
		m[k] = k
	}
	return newInternTable(m)
}()

// internLabelKey returns the labelKeys entry equal to b, without
// allocating.
func internLabelKey(b []byte) (string, bool) { return labelKeyTable.getBytes(b) }

// labelTextTable maps the usual spellings of the labelKeys as vendors
// write them ("Operation", "MITRE Technique", "ATTACK_TECHNIQUE") to
// their normalized key, so that labelKey finds them with one lookup
// instead of normalizing byte by byte. Every entry is computed by
// normLabelKey itself (TestLabelTextTable checks it).
var labelTextTable = func() *internTable {
	m := map[string]string{}
	for _, k := range labelKeys() {
		for _, text := range labelSpellings(k) {
			m[text] = normLabelKey(text)
		}
	}
	return newInternTable(m)
}()

// labelSpellings returns the spellings of the normalized key k (words
// joined by '_') that labelTextTable holds: its words lower case, title
// case, upper case and with the first word upper case and the others
// title case, joined by ' ' or '_'.
func labelSpellings(k string) []string {
	words := strings.Split(k, "_")
	title := func(w string) string { return strings.ToUpper(w[:1]) + w[1:] }
	casings := []func(i int, w string) string{
		func(_ int, w string) string { return w },
		func(_ int, w string) string { return title(w) },
		func(_ int, w string) string { return strings.ToUpper(w) },
		func(i int, w string) string {
			if i == 0 {
				return strings.ToUpper(w)
			}
			return title(w)
		},
	}
	var out []string
	for _, c := range casings {
		for _, sep := range []string{" ", "_"} {
			ws := make([]string, len(words))
			for i, w := range words {
				ws[i] = c(i, w)
			}
			out = append(out, strings.Join(ws, sep))
		}
	}
	return out
}
