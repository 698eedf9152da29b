package lab

import "testing"

func TestSNMPCounter(t *testing.T) {
	snmp := []byte(`Ip: Forwarding DefaultTTL InReceives
Ip: 2 64 1234
Tcp: RtoAlgorithm RtoMin OutRsts InCsumErrors
Tcp: 1 200 17 0
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors
Udp: 10 2 0 9 31
`)
	for _, tc := range []struct {
		proto, name string
		want        int64
		err         string
	}{
		{"Tcp", "OutRsts", 17, ""},
		{"Udp", "RcvbufErrors", 31, ""},
		{"Ip", "InReceives", 1234, ""},
		{"Udp", "OutRsts", 0, "no Udp OutRsts in /proc/net/snmp"},
		{"Icmp", "InMsgs", 0, "no Icmp InMsgs in /proc/net/snmp"},
	} {
		got, err := SNMPCounter(snmp, tc.proto, tc.name)
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
			t.Errorf("SNMPCounter(%s, %s) = %d, %v; want %d, %q", tc.proto, tc.name, got, err, tc.want, tc.err)
		}
	}
}
