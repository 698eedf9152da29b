package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hapair/hapair/test/lab/probe"
)

// Binaries are the programs the lab runs, built once per test process.
type Binaries struct {
	Had, Hactl, Labsrv, Labprobe string
}

// Packages built by BuildBinaries, relative to the module root.
const (
	PkgHad      = "./cmd/had"
	PkgHactl    = "./cmd/hactl"
	PkgLabsrv   = "./test/cmd/labsrv"
	PkgLabprobe = "./test/cmd/labprobe"
)

var builds struct {
	sync.Mutex
	dir  string
	bins map[string]string // package -> path
}

// BuildBinaries builds had, hactl, labsrv and labprobe (once per process) and
// returns their paths. Call Main from TestMain to remove them at exit.
func BuildBinaries(t T) Binaries {
	t.Helper()
	p := Build(t, PkgHad, PkgHactl, PkgLabsrv, PkgLabprobe)
	return Binaries{Had: p[0], Hactl: p[1], Labsrv: p[2], Labprobe: p[3]}
}

// Build builds the given main packages of this module (e.g. "./test/cmd/labsrv")
// with one `go build`, each at most once per process, and returns their paths
// in order. A build failure fails t.
func Build(t T, pkgs ...string) []string {
	t.Helper()
	builds.Lock()
	defer builds.Unlock()
	if builds.dir == "" {
		dir, err := os.MkdirTemp("", fmt.Sprintf("hapair-lab-bin-%d-", os.Getpid()))
		if err != nil {
			t.Fatalf("lab: making binaries dir: %v", err)
		}
		builds.dir, builds.bins = dir, map[string]string{}
		sweepStaleBinaries()
	}
	var todo []string
	for _, p := range pkgs {
		if _, ok := builds.bins[p]; !ok {
			todo = append(todo, p)
		}
	}
	if len(todo) > 0 {
		start := time.Now()
		root, err := moduleRoot()
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, goTool(), append([]string{"build", "-o", builds.dir + "/"}, todo...)...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("lab: go build %s: %v\n%s", strings.Join(todo, " "), err, out)
		}
		for _, p := range todo {
			builds.bins[p] = filepath.Join(builds.dir, filepath.Base(p))
		}
		t.Logf("lab: built %s in %v", strings.Join(todo, " "), time.Since(start).Round(time.Millisecond))
	}
	paths := make([]string, len(pkgs))
	for i, p := range pkgs {
		paths[i] = builds.bins[p]
	}
	return paths
}

// Main runs the tests and then removes the binaries Build made:
//
//	func TestMain(m *testing.M) { os.Exit(lab.Main(m)) }
//
// Without it they stay in $TMPDIR until a later lab sweeps them. m is a
// *testing.M; any Run() int will do.
func Main(m interface{ Run() int }) int {
	code := m.Run()
	RemoveBinaries()
	return code
}

// RemoveBinaries removes the binaries Build made; a later Build makes them
// again. Programs that use the lab (the demo) call it at exit, as Main does
// for tests.
func RemoveBinaries() {
	builds.Lock()
	defer builds.Unlock()
	if builds.dir != "" {
		os.RemoveAll(builds.dir)
		builds.dir, builds.bins = "", nil
	}
}

var staleBinDir = regexp.MustCompile(`^hapair-lab-bin-([0-9]+)-`)

// sweepStaleBinaries removes binary dirs of dead test processes.
func sweepStaleBinaries() {
	ents, _ := os.ReadDir(os.TempDir())
	for _, e := range ents {
		m := staleBinDir.FindStringSubmatch(e.Name())
		if m == nil || !e.IsDir() {
			continue
		}
		if pid, err := strconv.Atoi(m[1]); err == nil && pid != os.Getpid() && !alive(pid) {
			os.RemoveAll(filepath.Join(os.TempDir(), e.Name()))
		}
	}
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(os.Getenv("GOROOT"), "bin", "go")
}

func moduleRoot() (string, error) {
	out, err := exec.Command(goTool(), "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("lab: go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("lab: not inside a Go module")
	}
	return filepath.Dir(mod), nil
}

// StartHad writes config to h.Dir/had.toml and authkeys to h.Dir/authkeys
// (mode 0600) and starts `had -c had.toml --node NAME` on h. Configs should put
// the control socket and state in h.Dir (HadSocket).
func (h *Host) StartHad(bins Binaries, config, authkeys string, extraArgs ...string) *Proc {
	h.lab.t.Helper()
	h.WriteFile("authkeys", authkeys, 0o600)
	cfg := h.WriteFile("had.toml", config, 0o600)
	return h.Start(append([]string{bins.Had, "-c", cfg, "--node", h.Name}, extraArgs...))
}

// HadSocket is the control socket path configs for h should use
// (cluster.socket), one per host.
func (h *Host) HadSocket() string { return filepath.Join(h.Dir, "had.sock") }

// Hactl runs `hactl -c h.Dir/had.toml ARGS...` on h (bounded at 30s) and
// returns its stdout; see ExitCode for `is-master`.
func (h *Host) Hactl(bins Binaries, args ...string) ([]byte, error) {
	return h.RunFor(defaultRunTimeout, append([]string{bins.Hactl, "-c", filepath.Join(h.Dir, "had.toml")}, args...)...)
}

// StartLabsrv starts labsrv on each backend, named after the host
// ("backend1"), with its default ports (HTTP 80, TCP 9000, UDP 5060), and
// waits until each answers on TCP.
func (l *Lab) StartLabsrv(bins Binaries) []*Proc {
	l.t.Helper()
	var procs []*Proc
	for _, h := range l.Backends() {
		procs = append(procs, h.Start([]string{bins.Labsrv, "-name", h.Name}))
	}
	for _, h := range l.Backends() {
		target := fmt.Sprintf("%s:%d", h.Addr, LabsrvTCPPort)
		Eventually(l.t, 10*time.Second, "labsrv on "+h.Name, func() error {
			_, err := l.Probe(bins, "client", target, probe.Options{Proto: "tcp", Count: 1})
			return err
		})
	}
	return procs
}

// labsrv's default ports.
const (
	LabsrvHTTPPort = 80
	LabsrvTCPPort  = 9000
	LabsrvUDPPort  = 5060
)

// Probe runs labprobe on host against target ("198.18.0.100:9000") to
// completion and returns its result. o.Target is ignored; target is parsed.
// The error is set when the probe did not run or not every attempt succeeded
// (the result is returned in that case too).
func (l *Lab) Probe(bins Binaries, host, target string, o probe.Options) (*probe.Result, error) {
	p := l.byName[host]
	if p == nil {
		return nil, fmt.Errorf("lab: no host %q", host)
	}
	bound, err := probeBound(target, o)
	if err != nil {
		return nil, err
	}
	out, err := p.RunFor(bound, probeArgv(bins, target, o)...)
	return parseProbe(out, err)
}

// probeBound validates the probe like labprobe will and returns how long it
// may take at most, plus room for starting it.
func probeBound(target string, o probe.Options) (time.Duration, error) {
	ap, err := netip.ParseAddrPort(target)
	if err != nil {
		return 0, fmt.Errorf("lab: probe target %q: %w", target, err)
	}
	o.Target = ap
	if err := o.Validate(); err != nil {
		return 0, err
	}
	return o.Duration + o.Timeout + 30*time.Second, nil
}

func probeArgv(bins Binaries, target string, o probe.Options) []string {
	argv := []string{bins.Labprobe, "-json", "-target", target}
	if o.Proto != "" {
		argv = append(argv, "-proto", o.Proto)
	}
	for flag, d := range map[string]time.Duration{"-interval": o.Interval, "-timeout": o.Timeout, "-duration": o.Duration} {
		if d > 0 {
			argv = append(argv, flag, d.String())
		}
	}
	if o.Count > 0 {
		argv = append(argv, "-count", strconv.Itoa(o.Count))
	}
	return argv
}

func parseProbe(out []byte, runErr error) (*probe.Result, error) {
	if code := ExitCode(runErr); code != 0 && code != 1 {
		return nil, runErr
	}
	var r probe.Result
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("lab: parsing labprobe output %q: %w", out, err)
	}
	if r.Failed > 0 {
		return &r, fmt.Errorf("lab: %s", r.Summary())
	}
	return &r, nil
}

// ProbeProc is a labprobe running in the background (StartProbe).
type ProbeProc struct{ *Proc }

// StartProbe starts labprobe on host against target in the background, for
// probing across a failover; Result waits for it.
func (l *Lab) StartProbe(bins Binaries, host, target string, o probe.Options) *ProbeProc {
	l.t.Helper()
	if _, err := probeBound(target, o); err != nil {
		l.t.Fatal(err)
	}
	return &ProbeProc{l.Host(host).Start(probeArgv(bins, target, o))}
}

// Result waits at most timeout for the probe to finish and returns its result
// (see Probe for the error).
func (p *ProbeProc) Result(timeout time.Duration) (*probe.Result, error) {
	err := p.Wait(timeout)
	if ExitCode(err) == -1 {
		return nil, err
	}
	// stdout and stderr share the log: the JSON is the line starting with '{'.
	for _, line := range strings.Split(p.Output(), "\n") {
		if strings.HasPrefix(line, "{") {
			return parseProbe([]byte(line), err)
		}
	}
	return nil, fmt.Errorf("lab: labprobe on %s printed no result: %s", p.Host.Name, p.tail(4096))
}
