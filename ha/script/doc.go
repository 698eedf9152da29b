// Package script runs external programs for the HA stack: the `script`
// resource (Heartbeat haresources and LSB init-script semantics:
// `prog arg... start|stop|status`) and notify hooks run on every group
// transition (like keepalived's notify_master/backup/fault).
//
// It owns process handling: programs run in their own process group with a
// timeout, and on timeout the whole group is sent SIGTERM and then SIGKILL,
// so a hung script cannot leave children behind; output is captured, bounded
// and quoted in errors. It does not decide when to run anything.
package script
