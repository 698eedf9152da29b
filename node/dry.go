package node

import (
	"context"

	"github.com/hapair/hapair/ha/ipvssync"
	"github.com/hapair/hapair/ha/vip"
)

// The inert stand-ins a dry run builds resources with: constructors get a
// kernel to hold, and any call fails without touching the system.

type dryVIPKernel struct{}

var _ vip.Kernel = dryVIPKernel{}

func (dryVIPKernel) LinkByName(string) (vip.Link, error) { return vip.Link{}, errDryRun }
func (dryVIPKernel) LinkByIndex(int) (vip.Link, error)   { return vip.Link{}, errDryRun }
func (dryVIPKernel) Addrs() ([]vip.Addr, error)          { return nil, errDryRun }
func (dryVIPKernel) AddrAdd(vip.Link, vip.Addr) error    { return errDryRun }
func (dryVIPKernel) AddrDel(vip.Link, vip.Addr) error    { return errDryRun }

type dryIPVSKernel struct{}

var _ ipvssync.Kernel = dryIPVSKernel{}

func (dryIPVSKernel) Available() error                    { return errDryRun }
func (dryIPVSKernel) StartDaemon(ipvssync.Daemon) error   { return errDryRun }
func (dryIPVSKernel) StopDaemon(ipvssync.State) error     { return errDryRun }
func (dryIPVSKernel) Daemons() ([]ipvssync.Daemon, error) { return nil, errDryRun }

// dryKeyring lets a dry run check the link config without authkeys: it
// signs nothing that is ever sent.
type dryKeyring struct{}

func (dryKeyring) Sign([]byte) (uint8, []byte)       { return 0, nil }
func (dryKeyring) Verify(uint8, []byte, []byte) bool { return false }

// dryResource stands in for a resource that would start a process.
type dryResource struct{ name string }

func (d dryResource) Name() string                 { return d.name }
func (d dryResource) Start(context.Context) error  { return errDryRun }
func (d dryResource) Stop(context.Context) error   { return errDryRun }
func (d dryResource) Status(context.Context) error { return errDryRun }
