package lab

import (
	"fmt"
	"strconv"
	"strings"
)

// SNMPCounter returns counter name of protocol proto ("Ip", "Tcp", "Udp",
// …) from the text of a namespace's /proc/net/snmp, where each protocol
// has a line of counter names and then a line of values, both starting
// with "Proto:" (proc(5)); e.g. SNMPCounter(text, "Udp", "RcvbufErrors").
func SNMPCounter(snmp []byte, proto, name string) (int64, error) {
	var head []string
	for _, line := range strings.Split(string(snmp), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != proto+":" {
			continue
		}
		if head == nil {
			head = f
			continue
		}
		for i, h := range head {
			if h == name && i < len(f) {
				return strconv.ParseInt(f[i], 10, 64)
			}
		}
		break
	}
	return 0, fmt.Errorf("no %s %s in /proc/net/snmp", proto, name)
}
