package main

import (
	"errors"

	"github.com/hapair/hapair/cmd/internal/config"
	"github.com/hapair/hapair/ha/resource"
)

// TEMPORARY until ha/ipvssync lands.
func openIPVS() (any, error) { return nil, errors.New("ipvs-sync: not available yet") }

func newIPVSSync(c *config.IPVSSync, deps resourceDeps) (resource.Resource, error) {
	return nil, errors.New("ipvs-sync: not available yet")
}
