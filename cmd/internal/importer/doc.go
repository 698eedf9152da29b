// Package importer converts the files of the setups hapair replaces into a
// had.toml: Heartbeat's ha.cf, haresources and authkeys (ha.cf(5),
// http://linux-ha.org/haresources, authkeys(5)), ldirectord.cf
// (ldirectord(8)), ipvsadm rules (ipvsadm(8): the `ipvsadm-save` /
// `ipvsadm -S -n` format and `ipvsadm -A/-a` command lines in a shell script)
// and a Zeus Load Balancer monitor.cfg (MASTERS, SLAVES, SCRIPT, TIMEPERIOD).
//
// Every directive of the source is either mapped onto a hapair key, warned
// about (not carried over, with the file, line and reason) or refused
// (something essential that could not be converted: the Result is then not
// Complete). The output names the source file and line of each block in a
// TOML comment, is the same for the same input, and always passes `hactl
// check-config` (given the authkeys file it names): where the source lacks
// something hapair requires (a cluster around a bare ldirectord.cf, a
// netmask, a second node's address) the output holds a marked placeholder
// and a warning says so, and what cannot stand (an IPv6 heartbeat link, a
// resource script that is not there) is left out with a refusal.
//
// The package only reads the files it is given; it never resolves names,
// never touches the network and never writes a file. It writes its TOML
// itself (a small emitter in emit.go) because go-toml stays inside
// internal/config.
package importer
