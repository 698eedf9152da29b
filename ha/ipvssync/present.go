package ipvssync

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Present reports, reading files only, whether this host's kernel has
// IPVS or can load it: /proc/net/ip_vs exists while IPVS is loaded or
// built in; otherwise modules.builtin or modules.dep under
// /lib/modules/RELEASE naming ip_vs.ko means the kernel loads it on
// demand (ip_vs declares its generic netlink family as a module alias, so
// had's first query at start loads it, as ipvsadm's does). It returns nil
// or an error wrapping ErrNoIPVS that says what was looked at. Unlike
// Check it never asks the kernel, so it cannot load a module: it is the
// config check's probe.
func Present() error { return present(os.DirFS("/"), kernelRelease) }

// present is Present over root (the file system's root) with release
// giving the running kernel's release (uname -r).
func present(root fs.FS, release func() (string, error)) error {
	if _, err := fs.Stat(root, "proc/net/ip_vs"); err == nil {
		return nil
	}
	rel, err := release()
	if err != nil {
		return fmt.Errorf("ipvs-sync: reading the kernel release: %w", err)
	}
	dir := filepath.Join("lib/modules", rel)
	for _, list := range []string{"modules.builtin", "modules.dep"} {
		if ok, err := listsIPVS(root, filepath.Join(dir, list)); err != nil {
			return err
		} else if ok {
			return nil
		}
	}
	return noIPVS("ipvs-sync: the kernel has no IPVS: no /proc/net/ip_vs, and no ip_vs module in /" + dir + " (build the kernel with CONFIG_IP_VS, or install its ip_vs module)")
}

// noIPVS is Present's ErrNoIPVS: it says what was read, not what nlctrl
// answered.
type noIPVS string

func (e noIPVS) Error() string        { return string(e) }
func (e noIPVS) Is(target error) bool { return target == ErrNoIPVS }

// listsIPVS reports whether the modules list at name (modules.builtin or
// modules.dep: one module path per line, "path: deps" in modules.dep)
// names ip_vs.ko, possibly compressed. A missing list names nothing.
func listsIPVS(root fs.FS, name string) (bool, error) {
	f, err := root.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("ipvs-sync: reading /%s: %w", name, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		mod, _, _ := strings.Cut(sc.Text(), ":")
		base := filepath.Base(mod)
		if base == "ip_vs.ko" || strings.HasPrefix(base, "ip_vs.ko.") {
			return true, nil
		}
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("ipvs-sync: reading /%s: %w", name, err)
	}
	return false, nil
}

// kernelRelease is uname -r, read from procfs.
func kernelRelease() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	return strings.TrimSpace(string(b)), err
}
