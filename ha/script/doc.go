// Package script runs external programs for the HA stack: the `script`
// resource (Heartbeat haresources and LSB init-script semantics:
// `prog arg... start|stop|status`) and notify hooks run on every group
// transition (like keepalived's notify_master/backup/fault).
//
// Programs run through internal/runner, the one process policy of the tree:
// their own process group with a timeout, SIGTERM then SIGKILL to the whole
// group, so a hung script cannot leave children behind; output is captured,
// bounded and quoted in errors. It does not decide when to run anything.
package script
