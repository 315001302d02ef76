package syslog

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
