package main

import (
	"github.com/hapair/hapair/cmd/internal/config"
	"github.com/hapair/hapair/ha/ipvssync"
	"github.com/hapair/hapair/ha/resource"
)

// openIPVS checks the kernel has IPVS before any group needs it, so a
// config with ipvs-sync fails at start with the reason, not at takeover.
func openIPVS() (*ipvssync.Netlink, error) {
	if err := ipvssync.Check(); err != nil {
		return nil, err
	}
	return ipvssync.OpenNetlink("")
}

func newIPVSSync(c *config.IPVSSync, deps resourceDeps) (resource.Resource, error) {
	return ipvssync.New(ipvssync.Config{
		Role: c.Role, Interface: c.Interface, SyncID: c.SyncID,
		Kernel: deps.ipvs, Logger: deps.log,
	})
}
