// Package conntracksync is the `conntrack-sync` resource: it runs Debian's
// conntrackd on every node in FTFW mode over UDP on a heartbeat link, with
// a config it generates, so the kernel connection state behind hapair's
// nat and dr services is replicated to the standby. It switches conntrackd's
// role on every ownership change the way conntrackd's primary-backup.sh
// (doc/sync in conntrack-tools) does for keepalived:
//
//   - taking the group (Start): commit the external cache to the kernel
//     (-c), flush the caches (-f), resync the internal cache with the
//     kernel table (-R), send a bulk update to the backup (-B). Start
//     returns after the commit, which is all the group's next resources
//     (kernel services, VIP) need; -f, -R and -B follow in the background
//     (a release or Close ends them first), as keepalived's notify_master
//     runs the script beside the VIP's move;
//   - releasing it (Stop): schedule a flush of the kernel's conntrack
//     table PurgeTimeout later, so the entries the new owner now drives go
//     (-t), and request a resync from the new owner (-n); both in the
//     background, as the peer's takeover waits for the release and needs
//     neither (the next takeover here ends them first);
//   - on a node that starts without the group (RemoveStale): the daemon
//     runs and requests a resync (-n).
//
// conntrackd is a child of had started as BIRD is (runner.StartDaemon),
// in its own process group, stopped with SIGTERM then SIGKILL
// (internal/runner's kill policy) by Close when had exits, and killed by
// the kernel (PR_SET_PDEATHSIG) if had dies without closing it. A daemon an earlier run left anyway is told to exit through
// its own control socket (conntrackd -k), never by name. The daemon
// exiting is a resource failure whose reason (exit status and last
// output) Status reports.
//
// It owns the files in its Dir (config, lock file, control socket) and
// the conntrackd process it started; it does not own the kernel's
// conntrack table (conntrackd does) and does not decide ownership.
package conntracksync
