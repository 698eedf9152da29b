package main

import "testing"

// TestCheckConfigReview runs configs a fresh reviewer found passing the
// check although had would then not serve them, or would cut the
// cluster's own traffic: each must fail with exit status 1 and exactly
// these lines (FILE stands for the file's path).
func TestCheckConfigReview(t *testing.T) {
	runCheckCases(t, []checkCase{
		// The kernel rules match a packet's destination address: 0.0.0.0
		// never is one, and a loopback address never arrives from a client.
		{"nat service on the wildcard address", func(t *testing.T) string {
			s := replace(t, caseBase, `listen = "198.18.0.100:80"`, `listen = "0.0.0.0:80"`)
			return replace(t, s, "check = {", "method = \"nat\"\ncheck = {")
		}, []string{
			`FILE:21:10: service[0].listen: 0.0.0.0:80: method "nat" forwards the packets whose destination is the listen address, and no packet is addressed to 0.0.0.0; listen on a VIP of the group, or use method "proxy"`,
		}},
		{"dr service on a loopback address", func(t *testing.T) string {
			s := replace(t, caseBase, `listen = "198.18.0.100:80"`, `listen = "127.0.0.1:80"`)
			return replace(t, s, "check = {", "method = \"dr\"\ninterface = \"eth0\"\ncheck = {")
		}, []string{
			`FILE:21:10: service[0].listen: 127.0.0.1:80: method "dr" forwards the packets whose destination is the listen address, and no client's packet is addressed to a loopback address; listen on a VIP of the group, or use method "proxy"`,
		}},
	})
}
