package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/internal/ctl"
)

// checkSocket is what the check asks about the control socket's path:
// ctl.CheckSocketPath (its directory's owner and mode), and that the
// directory, or the nearest part of it that exists, is a directory
// (existingDir, as the state directory's check asks) and not on a pseudo
// file system, where had could not make it or bind (proc, sysfs, a
// cgroup file system) or that is no place for its files (devtmpfs).
func checkSocket(path string) error {
	if _, err := existingDir("socket directory", filepath.Dir(path)); err != nil {
		return err
	}
	return ctl.CheckSocketPath(path, os.Geteuid())
}

// existingDir walks from dir up to its nearest part that exists, where
// os.MkdirAll would start creating dir, and returns it. That part must be
// a directory and not on a kernel pseudo file system (pseudoFS); the
// errors name dir as what ("state directory"). A Stat error other than
// "does not exist" is returned too (ENOTDIR walks on: a file further up
// is found on the way).
func existingDir(what, dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		switch {
		case err == nil && !fi.IsDir():
			return d, fmt.Errorf("%s %s: %s is not a directory (mode %v)", what, dir, d, fi.Mode())
		case err == nil:
			if fs := pseudoFS(d); fs != "" {
				return d, fmt.Errorf("%s %s: %s is on %s, a kernel pseudo file system, not storage", what, dir, d, fs)
			}
			return d, nil
		case !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR), d == filepath.Dir(d):
			return d, fmt.Errorf("%s %s: %w", what, dir, err)
		}
	}
}

// pseudoMagic names the pseudo file systems by their statfs(2) f_type
// (linux/magic.h): the kernel's views of processes, devices, cgroups and
// its own state, where a directory is no storage (mkdir makes a cgroup
// under /sys/fs/cgroup) or refuses files outright.
var pseudoMagic = map[int64]string{
	unix.PROC_SUPER_MAGIC: "proc", unix.SYSFS_MAGIC: "sysfs", unix.DEVPTS_SUPER_MAGIC: "devpts",
	unix.CGROUP_SUPER_MAGIC: "cgroup", unix.CGROUP2_SUPER_MAGIC: "cgroup2", unix.DEBUGFS_MAGIC: "debugfs",
	unix.TRACEFS_MAGIC: "tracefs", unix.SECURITYFS_MAGIC: "securityfs", unix.PSTOREFS_MAGIC: "pstore",
	unix.BPF_FS_MAGIC: "bpf", configfsMagic: "configfs", fusectlMagic: "fusectl",
	mqueueMagic: "mqueue", unix.HUGETLBFS_MAGIC: "hugetlbfs", unix.EFIVARFS_MAGIC: "efivarfs",
	unix.SELINUX_MAGIC: "selinuxfs", unix.BINFMTFS_MAGIC: "binfmt_misc", unix.NSFS_MAGIC: "nsfs",
	unix.SMACK_MAGIC: "smackfs", unix.RDTGROUP_SUPER_MAGIC: "resctrl",
}

// Magics golang.org/x/sys/unix does not define (linux/magic.h).
const (
	configfsMagic = 0x62656570
	fusectlMagic  = 0x65735543
	mqueueMagic   = 0x19800202
)

// pseudoFS names the pseudo file system dir is on, "" for storage (or
// when statfs cannot tell). devtmpfs reports tmpfs's magic, as it is
// one, so a tmpfs directory is looked up in /proc/self/mountinfo by its
// device: /dev is devtmpfs there, /run and /dev/shm plain tmpfs (fine:
// ha/generation seeds from the clock when the counter is lost at a
// reboot).
func pseudoFS(dir string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return ""
	}
	if name, ok := pseudoMagic[int64(st.Type)]; ok {
		return name
	}
	if int64(st.Type) != unix.TMPFS_MAGIC {
		return ""
	}
	var fi unix.Stat_t
	if err := unix.Stat(dir, &fi); err != nil {
		return ""
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	if mountFSType(string(mi), unix.Major(fi.Dev), unix.Minor(fi.Dev)) == "devtmpfs" {
		return "devtmpfs"
	}
	return ""
}

// mountFSType returns the file system type of the mount whose device is
// major:minor in mountinfo (proc(5): field 3 is MAJOR:MINOR, the type
// follows the " - " separator), "" when none.
func mountFSType(mountinfo string, major, minor uint32) string {
	dev := fmt.Sprintf("%d:%d", major, minor)
	for _, line := range strings.Split(mountinfo, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[2] != dev {
			continue
		}
		if _, after, ok := strings.Cut(line, " - "); ok {
			if t := strings.Fields(after); len(t) > 0 {
				return t[0]
			}
		}
	}
	return ""
}
