// Package ipvssync is the `ipvs-sync` resource: the kernel's IPVS
// connection-sync daemon runs as master on the node that owns the group and
// as backup on the standby, so established IPVS connections survive a
// failover. It replaces Heartbeat's LVSSyncDaemonSwap (`ipvsadm
// --start-daemon master|backup --mcast-interface IF --syncid N`) and keeps
// its order: taking a group stops the backup daemon before starting the
// master; releasing it stops the master before starting the backup.
//
// It owns only the two sync daemons of one (interface, sync id) pair. It
// does not configure IPVS services or reals (the embedded balancer does not
// use IPVS) and does not decide who owns the group; the agent does.
//
// The kernel is reached only through the Kernel interface: Netlink speaks
// the "IPVS" generic netlink family (linux include/uapi/linux/ip_vs.h:
// IPVS_CMD_NEW_DAEMON, IPVS_CMD_DEL_DAEMON, IPVS_CMD_GET_DAEMON) through
// vishvananda/netlink; ipvssynctest has a fake that records a text trace.
// Where the kernel has no IPVS, Check and every Kernel call return
// ErrNoIPVS, so a config naming an ipvs-sync resource is refused at start
// with a clear reason instead of failing at the first takeover. Unit tests
// need no root and no IPVS.
package ipvssync
