package ipvssync

import (
	"encoding/binary"
	"fmt"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// The IPVS generic netlink family, from linux include/uapi/linux/ip_vs.h.
const (
	genlName    = "IPVS" // IPVS_GENL_NAME
	genlVersion = 1      // IPVS_GENL_VERSION

	cmdNewDaemon = 9  // IPVS_CMD_NEW_DAEMON: start a sync daemon
	cmdDelDaemon = 10 // IPVS_CMD_DEL_DAEMON: stop one
	cmdGetDaemon = 11 // IPVS_CMD_GET_DAEMON: dump the running ones

	cmdAttrDaemon = 3 // IPVS_CMD_ATTR_DAEMON: nested daemon attributes

	daemonAttrState    = 1 // IPVS_DAEMON_ATTR_STATE, u32
	daemonAttrMcastIfn = 2 // IPVS_DAEMON_ATTR_MCAST_IFN, NUL-terminated string
	daemonAttrSyncID   = 3 // IPVS_DAEMON_ATTR_SYNC_ID, u32
)

// nlaTypeMask is the kernel's NLA_TYPE_MASK: an attribute type without the
// nested and byte-order flags.
const nlaTypeMask = ^uint16(unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)

// daemonRequest builds a NEW_DAEMON or DEL_DAEMON request for family: the
// generic netlink header, then IPVS_CMD_ATTR_DAEMON nesting the state and,
// to start, the interface and sync id (the kernel requires all three for
// NEW_DAEMON and only the state for DEL_DAEMON). NLM_F_ACK makes the
// kernel answer success too, so the caller never waits for a reply that
// does not come.
func daemonRequest(family uint16, cmd uint8, d Daemon) *nl.NetlinkRequest {
	req := nl.NewNetlinkRequest(int(family), unix.NLM_F_ACK)
	req.AddData(&nl.Genlmsg{Command: cmd, Version: genlVersion})
	// NLA_F_NESTED marks the attribute as nested for strict parsers; the
	// kernel masks the flag off (nla_type) for IPVS's non-strict policy.
	nest := nl.NewRtAttr(cmdAttrDaemon|unix.NLA_F_NESTED, nil)
	nest.AddRtAttr(daemonAttrState, nl.Uint32Attr(uint32(d.State)))
	if cmd == cmdNewDaemon {
		nest.AddRtAttr(daemonAttrMcastIfn, nl.ZeroTerminated(d.Interface))
		nest.AddRtAttr(daemonAttrSyncID, nl.Uint32Attr(d.SyncID))
	}
	req.AddData(nest)
	return req
}

// listRequest builds the GET_DAEMON dump request (the kernel has only a
// dump handler for it).
func listRequest(family uint16) *nl.NetlinkRequest {
	req := nl.NewNetlinkRequest(int(family), unix.NLM_F_DUMP)
	req.AddData(&nl.Genlmsg{Command: cmdGetDaemon, Version: genlVersion})
	return req
}

// parseDaemon decodes one GET_DAEMON reply (the payload after the netlink
// header): a generic netlink header, then IPVS_CMD_ATTR_DAEMON. ok is
// false for a message without a daemon attribute. Lengths are checked
// before every read: a malformed reply is an error, never a panic.
func parseDaemon(msg []byte) (d Daemon, ok bool, err error) {
	if len(msg) < nl.SizeofGenlmsg {
		return Daemon{}, false, fmt.Errorf("ipvs-sync: daemon reply of %d bytes is shorter than its header", len(msg))
	}
	attrs, err := parseAttrs(msg[nl.SizeofGenlmsg:])
	if err != nil {
		return Daemon{}, false, fmt.Errorf("ipvs-sync: parsing daemon reply: %w", err)
	}
	for _, a := range attrs {
		if a.typ&nlaTypeMask != cmdAttrDaemon {
			continue
		}
		inner, err := parseAttrs(a.value)
		if err != nil {
			return Daemon{}, false, fmt.Errorf("ipvs-sync: parsing daemon attributes: %w", err)
		}
		var seen int
		for _, ia := range inner {
			switch ia.typ & nlaTypeMask {
			case daemonAttrState:
				v, err := u32(ia.value, "state")
				if err != nil {
					return Daemon{}, false, err
				}
				d.State = State(v)
				seen |= 1
			case daemonAttrMcastIfn:
				d.Interface = unix.ByteSliceToString(ia.value)
			case daemonAttrSyncID:
				v, err := u32(ia.value, "sync id")
				if err != nil {
					return Daemon{}, false, err
				}
				d.SyncID = v
			}
		}
		if seen == 0 {
			return Daemon{}, false, fmt.Errorf("ipvs-sync: daemon reply without a state")
		}
		return d, true, nil
	}
	return Daemon{}, false, nil
}

type nlAttr struct {
	typ   uint16
	value []byte
}

// parseAttrs splits b into netlink attributes. It is ours rather than
// nl.ParseRouteAttr because that one panics on a last attribute whose
// padding runs past the buffer (found by FuzzParseDaemon).
func parseAttrs(b []byte) ([]nlAttr, error) {
	var as []nlAttr
	for len(b) >= unix.SizeofNlAttr {
		n := int(binary.NativeEndian.Uint16(b[0:2]))
		if n < unix.SizeofNlAttr || n > len(b) {
			return nil, fmt.Errorf("attribute length %d with %d bytes left", n, len(b))
		}
		as = append(as, nlAttr{typ: binary.NativeEndian.Uint16(b[2:4]), value: b[unix.SizeofNlAttr:n]})
		b = b[min(len(b), (n+3)&^3):]
	}
	return as, nil
}

func u32(b []byte, what string) (uint32, error) {
	if len(b) < 4 {
		return 0, fmt.Errorf("ipvs-sync: daemon %s attribute of %d bytes, want 4", what, len(b))
	}
	return binary.NativeEndian.Uint32(b), nil
}
