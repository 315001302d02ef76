//go:build unix

package secret

import (
	"os"
	"syscall"
)

// ownedByRoot reports whether the file's owner is uid 0.
func ownedByRoot(st os.FileInfo) bool {
	sys, ok := st.Sys().(*syscall.Stat_t)
	return ok && sys.Uid == 0
}
