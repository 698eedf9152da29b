package importer

import (
	"fmt"
	"strings"
	"testing"
)

// TestUniqueNames: the first free suffix from 2, as the count-up it
// replaces gave, also when the source itself took a suffixed name.
func TestUniqueNames(t *testing.T) {
	u := newUniqueNames()
	var got []string
	for _, n := range []string{"http-80", "http-80", "http-80-3", "http-80", "http-80", "dns-53", "dns-53"} {
		got = append(got, u.take(n, n))
	}
	// A name longer than its stem (serviceName cuts it to leave room for
	// the suffix) takes the stem's next suffix.
	got = append(got, u.take("http-80", "http"), u.take("http-81", "http"), u.take("http-81", "http"))
	want := "http-80 http-80-2 http-80-3 http-80-4 http-80-5 dns-53 dns-53-2 http-2 http-81 http-3"
	if strings.Join(got, " ") != want {
		t.Fatalf("got %s\nwant %s", strings.Join(got, " "), want)
	}
}

// BenchmarkManyServices shows the cost per virtual service of sources with
// n services on one port (every one named http-80-N), or n ipvsadm
// services and n reals in one: flat in n. Naming counted up from 2 for
// every service and ipvsadm looked services and reals up in lists, so the
// cost per service grew with n: 69 and 82 µs at n=1000, 386 and 683 µs at
// n=8000 (3.1 s and 5.5 s per import); with the fix 20-40 µs at both.
func BenchmarkManyServices(b *testing.B) {
	for _, n := range []int{1000, 8000} {
		var ld, ipvs strings.Builder
		ipvs.WriteString("-A -t 198.18.0.1:80\n")
		for i := range n {
			addr := fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255)
			fmt.Fprintf(&ld, "virtual=%s:80\n\treal=198.18.1.1:80 masq\n", addr)
			fmt.Fprintf(&ipvs, "-A -t %s:80\n-a -t %s:80 -r 198.18.1.1 -m\n-a -t 198.18.0.1:80 -r %s\n", addr, addr, addr)
		}
		b.Run(fmt.Sprintf("ldirectord/n=%d", n), func(b *testing.B) {
			for b.Loop() {
				ldirectord("ldirectord.cf", []byte(ld.String()))
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/service")
		})
		b.Run(fmt.Sprintf("ipvsadm/n=%d", n), func(b *testing.B) {
			for b.Loop() {
				ipvsadm("rules", []byte(ipvs.String()))
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/service")
		})
	}
}
