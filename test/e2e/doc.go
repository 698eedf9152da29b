// Package e2e runs real had and hactl binaries on the project's own test
// hosts in network namespaces (test/lab): a pair of load balancers, two
// backends and a client on 198.18.0.0/24. Each test builds its own lab and
// tears it down, also on failure. The tests need root, ip and nft; without
// them they skip, unless HAPAIR_E2E=1 (as .ci/run sets), which makes a
// missing capability a failure.
package e2e
