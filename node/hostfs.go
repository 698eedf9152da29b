package node

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/internal/ctl"
)

// checkSocket is what the check asks about the control socket's path:
// ctl.CheckSocketPath (its directory's owner and mode), and that the
// directory, or the nearest part of it that exists, is not on a pseudo
// file system, where had could not make it or bind (proc, sysfs, a
// cgroup file system) or that is no place for its files (devtmpfs).
func checkSocket(path string) error {
	dir := filepath.Dir(path)
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			if fs := pseudoFS(d); fs != "" {
				return fmt.Errorf("socket directory %s: %s is on %s, a kernel pseudo file system, not storage", dir, d, fs)
			}
			break
		}
		if d == filepath.Dir(d) {
			break
		}
	}
	return ctl.CheckSocketPath(path, os.Geteuid())
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
