package ingest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// udpDrops reads the kernel's drop counter of one UDP socket: the "drops"
// column of /proc/net/udp (or udp6) on the line of the socket's inode. It
// counts datagrams the kernel discarded because the socket's receive
// buffer was full — loss that the process itself cannot see. It exists
// only on Linux.
type udpDrops struct {
	inode string
	files []string
}

// newUDPDrops returns the drop counter of c, or nil when the system does
// not expose it.
func newUDPDrops(c *net.UDPConn) *udpDrops {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil
	}
	var link string
	if err := rc.Control(func(fd uintptr) {
		link, _ = os.Readlink("/proc/self/fd/" + strconv.FormatUint(uint64(fd), 10))
	}); err != nil {
		return nil
	}
	// "socket:[12345]"
	inode, ok := strings.CutPrefix(link, "socket:[")
	if !ok {
		return nil
	}
	d := &udpDrops{inode: strings.TrimSuffix(inode, "]"), files: []string{"/proc/net/udp", "/proc/net/udp6"}}
	if _, err := d.read(); err != nil {
		return nil
	}
	return d
}

// read returns the socket's current drop count.
func (d *udpDrops) read() (uint64, error) {
	for _, f := range d.files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if n, ok := parseUDPDrops(data, d.inode); ok {
			return n, nil
		}
	}
	return 0, fmt.Errorf("udp socket inode %s not found in %v", d.inode, d.files)
}

// parseUDPDrops finds inode in the text of /proc/net/udp and returns its
// drops column (the last one).
func parseUDPDrops(data []byte, inode string) (uint64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
		if len(f) < 13 || f[9] != inode {
			continue
		}
		n, err := strconv.ParseUint(f[len(f)-1], 10, 64)
		return n, err == nil
	}
	return 0, false
}
