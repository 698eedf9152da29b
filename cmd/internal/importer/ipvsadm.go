package importer

import (
	"fmt"
	"io"
	"iter"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/proxy/sched"
)

// IPVSAdmFile imports ipvsadm rules from a file: `ipvsadm-save` /
// `ipvsadm -S -n` output, or a shell script running `ipvsadm -A/-a` (as
// RapidScale's lvs-init does). The error is non-nil only when the file
// cannot be read.
func IPVSAdmFile(path string) (*Result, error) {
	return importFile("ipvsadm rules", path, ipvsadm)
}

// IPVSAdm is IPVSAdmFile reading r; name stands for it in messages.
func IPVSAdm(name string, r io.Reader) (*Result, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read ipvsadm rules from %s: %w", name, err)
	}
	if len(data) > maxFile {
		return nil, fmt.Errorf("%s is more than %d bytes", name, maxFile)
	}
	return ipvsadm(name, data), nil
}

type ipvsSvc struct {
	at         src
	key        string // "tcp 198.18.0.1:80"
	proto      string
	vip        hostPort
	sched      string
	schedAt    src
	persistent time.Duration
	reals      []*ipvsReal // in the order added; a deleted one is gone
	byAddr     map[hostPort]*ipvsReal
	gone       bool // deleted by -D (or -C): left out at the end
}

type ipvsReal struct {
	at     src
	addr   hostPort
	method string
	weight int
	gone   bool // deleted by -d
}

type ipvsState struct {
	im       *importer
	file     string
	vars     map[string]string
	svcs     []*ipvsSvc // in the order added; a deleted one is gone
	byKey    map[string]*ipvsSvc
	skipped  int
	skipAt   src
	syncRole string
	syncIf   string
	syncID   int
	syncAt   src
}

var assignRE = regexp.MustCompile(`^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)

func ipvsadm(file string, data []byte) *Result {
	im := newImporter("ipvsadm", file)
	st := &ipvsState{im: im, file: file, vars: map[string]string{}, byKey: map[string]*ipvsSvc{}}
	for _, l := range splitLines(data, true) {
		st.line(src{file, l.n}, l.text)
	}
	if st.skipped > 0 {
		im.warnf(st.skipAt, "%d shell line(s) that run no ipvsadm command were skipped (the first is here)", st.skipped)
	}
	for _, s := range st.svcs {
		if !s.gone {
			st.service(s)
		}
	}
	if st.syncRole != "" {
		im.m.sync = &resource{at: st.syncAt, kind: config.KindIPVSSync, role: st.syncRole, iface: st.syncIf, syncID: st.syncID,
			note: "ipvsadm --start-daemon " + st.syncRole + ": the connection-sync daemon, run by the group's owner"}
	}
	im.m.template = true
	return im.result()
}

func (st *ipvsState) line(at src, text string) {
	text = strings.TrimSpace(cutShellComment(text))
	if text == "" {
		return
	}
	if m := assignRE.FindStringSubmatch(text); m != nil && !strings.ContainsAny(m[2], ";&|") {
		val, unknown := st.expand(m[2])
		if w, ok := shellWords(val); ok && len(w) <= 1 && len(unknown) == 0 {
			st.vars[m[1]] = strings.Join(w, "")
		} else {
			delete(st.vars, m[1])
		}
		return
	}
	ran := false
	for _, cmd := range splitShell(text) {
		expanded, unknown := st.expand(cmd)
		words, ok := shellWords(expanded)
		if !ok {
			st.im.warnf(at, "%q: unterminated quote; line skipped", strings.TrimSpace(cmd))
			ran = true
			continue
		}
		if len(words) == 0 {
			continue
		}
		var args []string
		switch {
		case strings.HasPrefix(words[0], "-"):
			args = words // ipvsadm-save format
		default:
			for i, w := range words {
				if w == "ipvsadm" || strings.HasSuffix(w, "/ipvsadm") {
					args = words[i+1:]
					break
				}
			}
			if args == nil {
				continue
			}
		}
		ran = true
		if len(unknown) > 0 {
			st.im.warnf(at, "ipvsadm %s: shell variable %s is not set by a plain assignment earlier in the file; command skipped", strings.Join(args, " "), strings.Join(unknown, ", "))
			continue
		}
		st.command(at, args)
	}
	if !ran {
		if st.skipped == 0 {
			st.skipAt = at
		}
		st.skipped++
	}
}

// cutShellComment removes a shell comment: '#' starting a word, outside
// quotes.
func cutShellComment(s string) string {
	for i := range unquoted(s) {
		if s[i] == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t') {
			return s[:i]
		}
	}
	return s
}

// splitShell splits a command line at ; && || and | outside quotes.
func splitShell(s string) []string {
	var out []string
	start := 0
	for i := range unquoted(s) {
		if c := s[i]; i >= start && (c == ';' || c == '&' || c == '|') {
			out = append(out, s[start:i])
			// The next command starts past the rest of && or ||.
			for start = i + 1; start < len(s) && (s[start] == '&' || s[start] == '|'); start++ {
			}
		}
	}
	return append(out, s[start:])
}

// unquoted yields the index of each byte of the shell line s that stands
// outside quotes and is not escaped by a backslash, as sh(1) reads them:
// quotes and backslashes themselves are not yielded.
func unquoted(s string) iter.Seq[int] {
	return func(yield func(int) bool) {
		var quote byte
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case quote != 0:
				if c == quote {
					quote = 0
				} else if c == '\\' && quote == '"' {
					i++
				}
			case c == '\'' || c == '"':
				quote = c
			case c == '\\':
				i++
			default:
				if !yield(i) {
					return
				}
			}
		}
	}
}

var varRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)|\$\(|` + "`")

// expand substitutes $VAR and ${VAR} set earlier in the file; anything it
// cannot know (an unset variable, a command substitution) is returned.
func (st *ipvsState) expand(s string) (string, []string) {
	var unknown []string
	out := varRE.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$(" || m == "`" {
			unknown = append(unknown, "a command substitution")
			return m
		}
		name := strings.Trim(m, "${}")
		v, ok := st.vars[name]
		if !ok {
			unknown = append(unknown, "$"+name)
			return m
		}
		return v
	})
	return out, unknown
}

// ipvsOpts are ipvsadm(8)'s options, long form to short; the value says
// whether it takes an argument.
var ipvsLong = map[string]string{
	"--add-service": "-A", "--edit-service": "-E", "--delete-service": "-D", "--clear": "-C", "--restore": "-R",
	"--save": "-S", "--add-server": "-a", "--edit-server": "-e", "--delete-server": "-d", "--list": "-L",
	"--zero": "-Z", "--tcp-service": "-t", "--udp-service": "-u", "--fwmark-service": "-f", "--scheduler": "-s",
	"--persistent": "-p", "--netmask": "-M", "--real-server": "-r", "--gatewaying": "-g", "--ipip": "-i",
	"--masquerading": "-m", "--weight": "-w", "--u-threshold": "-x", "--l-threshold": "-y", "--numeric": "-n",
	"--ipv6": "-6", "--sched-flags": "-b", "--ops": "-o", "--connection": "-c", "--help": "-h", "--version": "-v",
}

var ipvsTakesArg = map[string]bool{"-t": true, "-u": true, "-f": true, "-s": true, "-M": true, "-r": true, "-w": true,
	"-x": true, "-y": true, "-b": true, "--sctp-service": true, "--pe": true, "--mcast-interface": true, "--syncid": true,
	"--start-daemon": true, "--stop-daemon": true, "--set": true, "--mcast-group": true, "--mcast-port": true, "--mcast-ttl": true, "--sync-maxlen": true}

type ipvsCmd struct {
	cmd  string
	opts map[string]string
	set  []string // --set's three values
	fwd  []string // the forwarding options (-g, -i, -m), in command-line order
}

// ipvsForward maps ipvsadm's forwarding options onto LVS's method names.
var ipvsForward = map[string]string{"-g": "gate", "-m": "masq", "-i": "ipip"}

func (st *ipvsState) command(at src, args []string) {
	c := ipvsCmd{opts: map[string]string{}}
	line := "ipvsadm " + strings.Join(args, " ")
	for i := 0; i < len(args); i++ {
		a := args[i]
		if v, ok := strings.CutPrefix(a, "--"); ok {
			k, val, hasVal := strings.Cut(v, "=")
			k = "--" + k
			if s, ok := ipvsLong[k]; ok {
				k = s
			}
			if hasVal {
				c.put(k, val)
				continue
			}
			if k == "-p" {
				i = c.persistent(args, i)
				continue
			}
			if k == "--set" {
				if i+3 < len(args) {
					c.set = args[i+1 : i+4]
				}
				c.put(k, "")
				i += 3
				continue
			}
			if ipvsTakesArg[k] && i+1 < len(args) {
				i++
				c.put(k, args[i])
				continue
			}
			c.put(k, "")
			continue
		}
		if !strings.HasPrefix(a, "-") || len(a) < 2 {
			st.im.warnf(at, "%s: unexpected argument %q; command skipped", line, a)
			return
		}
		// Short options may be bundled (-Ln) and take their argument
		// attached or as the next word.
		for j := 1; j < len(a); j++ {
			k := "-" + string(a[j])
			if k == "-p" {
				i = c.persistent(args, i)
				continue
			}
			if ipvsTakesArg[k] {
				if j+1 < len(a) {
					c.put(k, a[j+1:])
				} else if i+1 < len(args) {
					i++
					c.put(k, args[i])
				} else {
					st.im.warnf(at, "%s: %s wants a value; command skipped", line, k)
					return
				}
				break
			}
			c.put(k, "")
		}
	}
	st.run(at, line, &c)
}

var ipvsCommands = map[string]bool{"-A": true, "-E": true, "-D": true, "-C": true, "-R": true, "-S": true, "-a": true,
	"-e": true, "-d": true, "-L": true, "-l": true, "-Z": true, "-h": true, "-v": true, "--set": true,
	"--start-daemon": true, "--stop-daemon": true}

// persistent records -p, whose timeout is optional (ipvsadm(8): "-p
// [timeout]"): it takes args[i+1] only when that is a number, and returns
// the index of the last word it used.
func (c *ipvsCmd) persistent(args []string, i int) int {
	c.put("-p", "")
	if i+1 < len(args) && isDigits(args[i+1]) {
		i++
		c.opts["-p"] = args[i]
	}
	return i
}

func (c *ipvsCmd) put(k, v string) {
	if ipvsCommands[k] && c.cmd == "" {
		c.cmd = k
	}
	if _, ok := ipvsForward[k]; ok {
		c.fwd = append(c.fwd, k)
	}
	c.opts[k] = v
}

func (st *ipvsState) run(at src, line string, c *ipvsCmd) {
	switch c.cmd {
	case "-A", "-E":
		st.addService(at, line, c)
	case "-D":
		if s := st.find(at, line, c); s != nil {
			s.gone = true
			delete(st.byKey, s.key)
		}
	case "-C":
		st.svcs, st.byKey = nil, map[string]*ipvsSvc{}
		st.im.warnf(at, "%s: clears every service defined above (as it did in the script)", line)
	case "-a", "-e":
		st.addReal(at, line, c)
	case "-d":
		s := st.find(at, line, c)
		if s == nil {
			return
		}
		r, err := parseHostPort(c.opts["-r"], s.vip.port)
		if err != nil {
			st.im.warnf(at, "%s: -r %v; command skipped", line, err)
			return
		}
		if x, ok := s.byAddr[r]; ok {
			x.gone = true
			delete(s.byAddr, r)
			return
		}
		st.im.warnf(at, "%s: no such real server; nothing to delete", line)
	case "--start-daemon":
		role := c.opts["--start-daemon"]
		if role != "master" && role != "backup" {
			st.im.warnf(at, "%s: want --start-daemon master or backup; ignored", line)
			return
		}
		st.syncRole, st.syncAt = role, at
		st.syncIf = firstNonEmpty(c.opts["--mcast-interface"], "eth0")
		if n, err := strconv.Atoi(c.opts["--syncid"]); err == nil && n >= 0 && n <= 255 {
			st.syncID = n
		}
	case "--stop-daemon":
		st.syncRole = ""
	case "--set":
		st.im.warnf(at, "%s: IPVS connection timeouts are not carried over; set idle_timeout per service", line)
	case "-R", "-S", "-L", "-l", "-Z", "-h", "-v":
		// Restore, save, list and zero change no rule.
	default:
		st.im.warnf(at, "%s: not an ipvsadm command that defines services; ignored", line)
	}
}

// virtual reads the -t/-u/-f/--sctp-service option: the protocol and
// address of the virtual service.
func (st *ipvsState) virtual(at src, line string, c *ipvsCmd) (string, hostPort, bool) {
	for _, o := range []struct{ opt, proto string }{{"-t", "tcp"}, {"-u", "udp"}} {
		v, ok := c.opts[o.opt]
		if !ok {
			continue
		}
		hp, err := parseHostPort(v, 0)
		if err != nil {
			st.im.refusef(at, "%s: %s %v; command skipped", line, o.opt, err)
			return "", hostPort{}, false
		}
		if hp.host != "" {
			st.im.refusef(at, "%s: virtual address %q is a host name: write the address (ipvsadm-save -n does); command skipped", line, hp.host)
			return "", hostPort{}, false
		}
		return o.proto, hp, true
	}
	if v, ok := c.opts["-f"]; ok {
		st.im.refusef(at, "%s: firewall-mark service %s is not supported (hapair balances an address and port); command skipped", line, v)
	} else if _, ok := c.opts["--sctp-service"]; ok {
		st.im.refusef(at, "%s: hapair balances tcp and udp, not sctp; command skipped", line)
	} else {
		st.im.warnf(at, "%s: no -t or -u service; command skipped", line)
	}
	return "", hostPort{}, false
}

func (st *ipvsState) find(at src, line string, c *ipvsCmd) *ipvsSvc {
	proto, vip, ok := st.virtual(at, line, c)
	if !ok {
		return nil
	}
	key := proto + " " + vip.String()
	if s, ok := st.byKey[key]; ok {
		return s
	}
	st.im.warnf(at, "%s: no service %s defined above; command skipped", line, key)
	return nil
}

func (st *ipvsState) addService(at src, line string, c *ipvsCmd) {
	proto, vip, ok := st.virtual(at, line, c)
	if !ok {
		return
	}
	key := proto + " " + vip.String()
	s := st.byKey[key]
	switch {
	case s == nil && c.cmd == "-E":
		st.im.warnf(at, "%s: no service %s defined above; taken as -A", line, key)
		fallthrough
	case s == nil:
		s = &ipvsSvc{at: at, key: key, proto: proto, vip: vip, sched: "wlc", byAddr: map[hostPort]*ipvsReal{}}
		st.svcs = append(st.svcs, s)
		st.byKey[key] = s
	case c.cmd == "-A":
		st.im.warnf(at, "%s: service %s already added at line %d; settings updated", line, key, s.at.line)
	}
	if v, ok := c.opts["-s"]; ok {
		s.sched, s.schedAt = v, at
	}
	if v, ok := c.opts["-p"]; ok {
		s.persistent = 300 * time.Second // ipvsadm's default timeout
		if v != "" {
			n, _ := strconv.Atoi(v)
			if n < 1 {
				st.im.warnf(at, "%s: -p %s is not a timeout in seconds; 300 used", line, v)
			} else {
				s.persistent = time.Duration(n) * time.Second
			}
		}
	}
	if v, ok := c.opts["-M"]; ok && v != "255.255.255.255" && v != "32" && v != "128" {
		st.im.warnf(at, "%s: -M %s: not carried over; hapair's persistence is per client address", line, v)
	}
	if _, ok := c.opts["-o"]; ok {
		// --ops schedules each UDP datagram on its own (ipvsadm(8)); hapair
		// keeps one client's flow on one real, as IPVS does without it.
		st.im.warnf(at, "%s: -o (one-packet scheduling): not carried over; hapair sends a client's datagrams as one flow to one real until the flow is idle for idle_timeout", line)
	}
	for _, o := range []string{"-b", "--pe"} {
		if v, ok := c.opts[o]; ok {
			st.im.warnf(at, "%s: %s %s: not carried over (no scheduler flags or persistence engines in hapair)", line, o, v)
		}
	}
}

func (st *ipvsState) addReal(at src, line string, c *ipvsCmd) {
	if len(c.fwd) > 1 {
		// ipvsadm(8) takes one forwarding method: a second -g, -i or -m
		// makes it fail ("multiple 'forwarding-method' options specified")
		// before it changes anything, so the source never had this real.
		st.im.warnf(at, "%s: more than one forwarding method (%s): ipvsadm refuses the command, and so did it when the rules ran; command skipped", line, strings.Join(c.fwd, " "))
		return
	}
	s := st.find(at, line, c)
	if s == nil {
		return
	}
	rv, ok := c.opts["-r"]
	if !ok {
		st.im.warnf(at, "%s: no -r real server; command skipped", line)
		return
	}
	addr, err := parseHostPort(rv, s.vip.port)
	if err != nil {
		st.im.refusef(at, "%s: -r %v; real not imported", line, err)
		return
	}
	r := s.byAddr[addr]
	if r == nil {
		if c.cmd == "-e" {
			st.im.warnf(at, "%s: no real %s in %s above; taken as -a", line, addr, s.key)
		}
		r = &ipvsReal{at: at, addr: addr, method: "gate", weight: 1}
		s.reals = append(s.reals, r)
		s.byAddr[addr] = r
	} else if c.cmd == "-a" {
		st.im.warnf(at, "%s: real %s already added at line %d; settings updated", line, addr, r.at.line)
	}
	if len(c.fwd) == 1 {
		r.method = ipvsForward[c.fwd[0]]
	}
	if v, ok := c.opts["-w"]; ok {
		n, err := strconv.Atoi(v)
		if err == nil {
			err = sched.CheckWeight(n)
		}
		if err != nil {
			st.im.warnf(at, "%s: -w %s: not a weight (%v); 1 used", line, v, err)
		} else {
			r.weight = n
		}
	}
	for _, o := range []string{"-x", "-y"} {
		if v, ok := c.opts[o]; ok {
			st.im.warnf(at, "%s: %s %s: connection thresholds are not carried over", line, o, v)
		}
	}
}

// service turns one IPVS virtual service into a hapair service. ipvsadm
// rules carry no health check (RapidScale ran mon scripts beside them).
func (st *ipvsState) service(v *ipvsSvc) {
	im := st.im
	s := &service{at: v.at, name: v.proto + "-" + strconv.Itoa(v.vip.port), listen: v.vip.String(), persistent: v.persistent}
	if v.proto == "udp" {
		s.protocol = "udp"
	}
	at := v.schedAt
	if at.file == "" {
		at = v.at
	}
	s.scheduler = im.scheduler(at, "-s "+v.sched, v.sched)
	var methods []methodAt
	for _, r := range v.reals {
		if r.gone {
			continue
		}
		s.reals = append(s.reals, &real{at: r.at, address: r.addr.String(), weight: r.weight, wset: true})
		methods = append(methods, methodAt{r.at, r.method})
	}
	im.forwarding(s, methods, "ipvsadm")
	im.noCheck(s, v.at, "ipvsadm rules have no health check")
	im.m.services = append(im.m.services, s)
}
