package importer

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hapair/hapair/authkeys"
	"github.com/hapair/hapair/internal/config"
)

// Heartbeat imports a Heartbeat directory (usually a copy of /etc/ha.d):
// ha.cf (ha.cf(5)), haresources and authkeys (authkeys(5)), and every
// ldirectord.cf that haresources names. The error is non-nil only when ha.cf
// cannot be read; anything else missing or wrong is a Warning.
func Heartbeat(dir string) (*Result, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot read the heartbeat directory %q: %w", dir, err)
	}
	return heartbeat(dir, abs, readDisk, os.Stat)
}

// heartbeat is Heartbeat with its file access injected; dir names the files
// in messages, abs is the directory the authkeys path in the output points
// into.
func heartbeat(dir, abs string, readFile readFunc, stat func(string) (fs.FileInfo, error)) (*Result, error) {
	im := &importer{}
	var sources []string
	read := func(name string) ([]byte, error) {
		data, err := readFile(name)
		if err == nil {
			sources = append(sources, name)
		}
		return data, err
	}
	im.findScript = func(name string) (string, bool) {
		// Heartbeat ran NAME from /etc/ha.d/resource.d or /etc/init.d; the
		// imported directory stands for /etc/ha.d.
		cands := []string{filepath.Join(abs, "resource.d", name), filepath.Join(filepath.Dir(abs), "init.d", name)}
		if filepath.IsAbs(name) {
			cands = []string{name}
		}
		for _, p := range cands {
			if fi, err := stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
				return p, true
			}
		}
		return "", false
	}
	name := func(f string) string { return filepath.Join(dir, f) }
	data, err := read(name("ha.cf"))
	if err != nil {
		return nil, cannotRead("ha.cf", err)
	}
	im.m.header = []string{
		"had.toml imported by `hactl import heartbeat` from " + dir + " (ha.cf, haresources, authkeys).",
		"Each block names the file and line it came from; review every NOTE and PLACEHOLDER.",
	}
	h := im.parseHACF(name("ha.cf"), data)
	c := &im.m.cluster
	c.name = "heartbeat"
	c.id = 1
	c.notes = append([]string{
		"cluster: from " + name("ha.cf") + ". Heartbeat had no cluster name or id (authkeys kept clusters apart):",
		"id must differ from every other hapair cluster on the same LAN, like a VRRP VRID.",
	}, c.notes...)
	c.nodes = h.nodes
	if c.keepalive == 0 && c.deadtime == 0 {
		d := config.Cluster{}.WithTimerDefaults()
		c.notes = append(c.notes, fmt.Sprintf("ha.cf sets no keepalive or deadtime: hapair's defaults apply (keepalive %v, deadtime %v), far shorter than Heartbeat's", d.Keepalive, d.Deadtime))
	}
	im.authkeys(name("authkeys"), filepath.Join(abs, "authkeys"), read, stat)

	hr, err := read(name("haresources"))
	switch {
	case err != nil && h.crm:
		// With crm on, Heartbeat itself ignores haresources.
	case err != nil:
		im.refusef(src{name("haresources"), 0}, "cannot read haresources (%v): no resource groups imported", unwrapPath(err))
	default:
		im.parseHaresources(name("haresources"), hr, h, func(f string) (string, []byte, error) {
			// ldirectord looks a relative name up in /etc/ha.d (then
			// /etc/ha.d/conf); the imported directory stands for /etc/ha.d.
			cands := []string{name(f), name(filepath.Join("conf", f))}
			if filepath.IsAbs(f) {
				cands = []string{f}
				if rest, ok := strings.CutPrefix(f, "/etc/ha.d/"); ok {
					cands = []string{name(rest), f}
				}
			}
			var first error
			for _, p := range cands {
				d, err := read(p)
				if err == nil {
					return p, d, nil
				}
				if first == nil {
					first = err
				}
			}
			return cands[0], nil, first
		})
	}
	res := im.result()
	res.Sources = sources
	return res, nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// authkeys checks the authkeys file with hapair's own parser: hapair reads
// Heartbeat's format unchanged, so the file is kept as is and the output
// points at it. crc is refused (it authenticates nothing); md5 and sha1 are
// accepted with a rotation hint.
func (im *importer) authkeys(display, abs string, read readFunc, stat func(string) (fs.FileInfo, error)) {
	c := &im.m.cluster
	at := src{display, 0}
	data, err := read(display)
	if err != nil {
		im.refusef(at, "cannot read authkeys (%v): hapair needs Heartbeat's authkeys file; write one with a sha256 key next to had.toml", unwrapPath(err))
		c.authkeys = "authkeys"
		c.notes = append(c.notes, "PLACEHOLDER: "+display+" could not be read: write authkeys next to this file (auth 1 / 1 sha256 SECRET, mode 0600)")
		return
	}
	_, warns, perr := authkeys.Parse(bytes.NewReader(data), display)
	for _, w := range warns {
		line, msg := authkeysPos(w, display)
		if strings.Contains(msg, "legacy method") {
			msg += "; rotate without downtime: add `N sha256 SECRET` on both nodes, move `auth` to N on both, then delete the old key"
		}
		im.warnf(src{display, line}, "%s", msg)
	}
	if perr != nil {
		var errs authkeys.Errors
		errors.As(perr, &errs)
		for _, e := range errs {
			im.refusef(src{display, e.Line}, "%s", e.Msg)
		}
		c.authkeys = "authkeys"
		c.notes = append(c.notes, "PLACEHOLDER: "+display+" was refused (see the warnings): write authkeys next to this file with a sha256 key, mode 0600")
		return
	}
	if fi, err := stat(display); err == nil && fi.Mode().Perm()&0o077 != 0 {
		im.warnf(at, "mode %04o gives group or others access to the keys; had refuses such a file (fix: chmod 600 %s)", fi.Mode().Perm(), display)
	}
	c.authkeys = abs
	c.notes = append(c.notes, "authkeys: Heartbeat's file, read unchanged; move it to /etc/hapair/authkeys (mode 0600) and change this path")
}

// authkeysPos splits a warning of authkeys.Parse, "FILE:LINE:COL: msg",
// into its line and message (line 0 when it concerns the whole file).
func authkeysPos(s, file string) (int, string) {
	rest, ok := strings.CutPrefix(s, file+":")
	if !ok {
		return 0, s
	}
	num, after, ok := strings.Cut(rest, ":")
	n, err := strconv.Atoi(num)
	if !ok || err != nil {
		return 0, strings.TrimPrefix(rest, " ")
	}
	if _, msg, ok := strings.Cut(after, ": "); ok {
		return n, msg
	}
	return n, after
}

type ldReader func(name string) (path string, data []byte, err error)

// parseHaresources reads each haresources line, `NODE RESOURCE...`, as one
// group whose resources start in order.
func (im *importer) parseHaresources(file string, data []byte, h *hacf, readLD ldReader) {
	usedLD := map[string]src{}
	names := newUniqueNames()
	for at, f := range fieldLines(file, data, true) {
		node := im.nodeName(at, f[0])
		if !config.ValidName(node, 64) {
			im.refusef(at, "node %q: hapair node names are 1..64 characters of A-Z a-z 0-9 . _ -; group not imported", node)
			continue
		}
		if !containsStr(im.m.cluster.nodes, node) {
			// Heartbeat refuses a haresources line whose node is not a
			// node of ha.cf: a typo, or a node taken out of the cluster,
			// is not a new member.
			known := "it has none"
			if len(im.m.cluster.nodes) > 0 {
				known = "nodes " + strings.Join(im.m.cluster.nodes, ", ")
			}
			im.refusef(at, "node %s is not a node line in ha.cf (%s); group not imported", node, known)
			continue
		}
		g := &group{at: at, preferred: node}
		if len(f) == 1 {
			im.refusef(at, "%s has no resources; group not imported", node)
			continue
		}
		for _, tok := range f[1:] {
			im.haresource(at, g, tok, usedLD, readLD)
		}
		if len(g.resources) == 0 {
			im.refusef(at, "no resource of this line could be converted; group not imported")
			continue
		}
		g.name = groupName(g, f[1], names)
		im.m.groups = append(im.m.groups, g)
	}
}

func containsStr(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// groupName names a group as Heartbeat did (by its first resource), made a
// valid, unique hapair name: the first VIP's address if it has one.
func groupName(g *group, first string, used *uniqueNames) string {
	base := first
	for _, r := range g.resources {
		if r.kind == config.KindVIP {
			base = "vip-" + strings.SplitN(r.address, "/", 2)[0]
			break
		}
	}
	base = sanitizeName(strings.ReplaceAll(base, "::", "-"), "", 28)
	return used.take(base, base)
}

func (im *importer) haresource(at src, g *group, tok string, usedLD map[string]src, readLD ldReader) {
	agent, argStr, _ := strings.Cut(tok, "::")
	if _, err := netip.ParseAddr(strings.SplitN(tok, "/", 2)[0]); err == nil {
		// A bare address is Heartbeat's short form of IPaddr::ADDR.
		agent, argStr = "IPaddr", tok
	}
	switch agent {
	case "IPaddr", "IPaddr2", "IPv6addr":
		if r := im.ipaddr(at, agent, argStr); r != nil {
			g.resources = append(g.resources, r)
		}
	case "ldirectord":
		f := argStr
		if f == "" {
			f = "ldirectord.cf"
		}
		path, data, err := readLD(f)
		if err != nil {
			im.refusef(at, "ldirectord::%s: cannot read %s (%v): its services are not imported", f, path, unwrapPath(err))
			return
		}
		// By the file read, not the name written: "ldirectord" and
		// "ldirectord::/etc/ha.d/ldirectord.cf" are one file.
		if first, dup := usedLD[filepath.Clean(path)]; dup {
			im.refusef(at, "ldirectord::%s already imported at %s (%s): a service can be activated by one balancer only", f, first, path)
			return
		}
		usedLD[filepath.Clean(path)] = at
		svcs := im.parseLdirectord(path, data)
		if len(svcs) == 0 {
			im.refusef(at, "ldirectord::%s: no virtual service could be imported", f)
			return
		}
		r := &resource{at: at, kind: config.KindBalancer, note: "ldirectord::" + f + ": the services imported from " + path}
		r.svcs = svcs
		g.resources = append(g.resources, r)
	case "LVSSyncDaemonSwap":
		role := strings.SplitN(argStr, "::", 2)[0]
		if role != "master" && role != "backup" {
			im.refusef(at, "%s: want LVSSyncDaemonSwap::master or ::backup", tok)
			return
		}
		g.resources = append(g.resources, &resource{at: at, kind: config.KindIPVSSync, role: role, iface: "eth0",
			note: "LVSSyncDaemonSwap::" + role + ": ipvsadm --start-daemon used the kernel's default sync interface eth0 and syncid 0; check"})
	default:
		if agent == "" || strings.ContainsAny(agent, "\"'") || strings.Contains(agent, "/") && !filepath.IsAbs(agent) {
			im.refusef(at, "%q is not a resource name", tok)
			return
		}
		path, ok := im.findScript(agent)
		if !ok {
			im.refusef(at, "%s: no executable script %s in the directory's resource.d or in ../init.d (where Heartbeat looked); group imported without it", tok, agent)
			return
		}
		arg := ""
		if argStr != "" {
			arg = "::" + argStr
		}
		g.resources = append(g.resources, &resource{at: at, kind: config.KindScript, path: path + arg,
			note: agent + ": Heartbeat's script, used where it is; copy it to /etc/hapair/resource.d and write its bare name"})
		im.warnf(at, "%s: imported as a script resource running %s; copy the script to /etc/hapair/resource.d and write its bare name", tok, path)
	}
}

// ipaddr reads IPaddr's and IPaddr2's haresources argument,
// ADDR[/PREFIX|/NETMASK[/IF[:LABEL][/BROADCAST]]], and IPv6addr's ADDR/PREFIX[/IF].
func (im *importer) ipaddr(at src, agent, arg string) *resource {
	tok := agent + "::" + arg
	parts := strings.Split(arg, "/")
	a, err := netip.ParseAddr(parts[0])
	if err != nil || a.Zone() != "" {
		im.refusef(at, "%s: %q is not an IP address", tok, parts[0])
		return nil
	}
	a = a.Unmap()
	r := &resource{at: at, kind: config.KindVIP}
	bits := -1
	if len(parts) > 1 && parts[1] != "" {
		bits = prefixLen(parts[1], a.Is4())
		if bits < 0 {
			im.refusef(at, "%s: %q is neither a prefix length nor a netmask", tok, parts[1])
			return nil
		}
	}
	if bits < 0 {
		bits = a.BitLen()
		r.note = fmt.Sprintf("no netmask in haresources: Heartbeat took it from the route to the address; /%d stands in: check", bits)
		im.warnf(at, "%s: no netmask; Heartbeat found it from the route to the address, hapair needs it written: /%d used (check)", tok, bits)
	}
	if err := config.VIPAddressError(netip.PrefixFrom(a, bits)); err != nil {
		im.refusef(at, "%s: %v", tok, err)
		return nil
	}
	r.address = netip.PrefixFrom(a, bits).String()
	if len(parts) > 2 && parts[2] != "" {
		ifc, label, hasLabel := strings.Cut(parts[2], ":")
		r.iface = ifc
		if hasLabel {
			if ifc == "" {
				// had.toml refuses it: the kernel wants a label to
				// start with its device's name.
				im.warnf(at, "%s: label %q names no interface; not carried over", tok, parts[2])
			} else if len(parts[2]) > 15 || label == "" {
				im.warnf(at, "%s: label %q does not fit the kernel's 15 bytes; not carried over", tok, parts[2])
			} else {
				r.label = parts[2]
			}
		}
	}
	if len(parts) > 3 && parts[3] != "" {
		b, err := netip.ParseAddr(parts[3])
		if err != nil || b != config.VIPBroadcast(netip.PrefixFrom(a, bits)) {
			im.warnf(at, "%s: broadcast %s is not carried over: the kernel sets the prefix's broadcast address", tok, parts[3])
		}
	}
	if len(parts) > 4 {
		im.warnf(at, "%s: extra fields %q ignored", tok, strings.Join(parts[4:], "/"))
	}
	return r
}

// prefixLen parses a prefix length or a dotted netmask; -1 when neither.
func prefixLen(s string, v4 bool) int {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || (v4 && n > 32) || n > 128 {
			return -1
		}
		return n
	}
	m, err := netip.ParseAddr(s)
	if err != nil || !m.Is4() || !v4 {
		return -1
	}
	b := m.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	n := 0
	for v&0x80000000 != 0 {
		n++
		v <<= 1
	}
	if v != 0 {
		return -1 // not contiguous
	}
	return n
}
