package importer

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// zeusPort is the port of the placeholder listen address when -listen is
// not given: monitor.cfg names pools and monitors, not the service they
// belong to (that lived in the Zeus Admin Server); reals without a port get
// it too.
const zeusPort = 80

// Zeus imports a Zeus Load Balancer monitor.cfg: MASTERS become the
// service's reals, SLAVES its backups, each SCRIPT a monitor run every
// TIMEPERIOD seconds; traffic moves to the backups while any monitor prints
// FAIL, as Zeus's service-monitor did. listen is the service's ADDR:PORT;
// "" gives a documentation-range (RFC 5737) placeholder on port 80 and a
// refusal (the import is incomplete). The error is non-nil only when
// the file cannot be read or listen is not an address and port.
func Zeus(path, listen string) (*Result, error) {
	if listen != "" {
		// As ldirectord's virtual= is read: no host name, no zone, a
		// port, an IPv4-mapped address as IPv4.
		hp, err := parseHostPort(listen, 0)
		if err != nil || hp.host != "" {
			return nil, fmt.Errorf("zeus listen address %q: want IP:PORT (an address without a zone, a port 1-65535)", listen)
		}
		listen = hp.String()
	}
	return importFile("Zeus monitor.cfg", path, func(path string, data []byte) *Result { return zeus(path, data, listen) })
}

func zeus(file string, data []byte, listen string) *Result {
	im := newImporter("zeus", file)
	s := &service{at: src{file, 0}, name: "zeus", check: check{typ: "connect"}}
	port := zeusPort
	if listen != "" {
		s.listen = listen
		port = int(netip.MustParseAddrPort(listen).Port())
	}
	var period time.Duration
	var periodAt src
	seen := map[string]src{}
	for _, l := range splitLines(data, false) {
		text := strings.TrimSpace(cutComment(l.text, false))
		if text == "" {
			continue
		}
		at := src{file, l.n}
		key, val := zeusKV(text)
		switch key {
		case "MASTERS", "SLAVES":
			if first, dup := seen[key]; dup {
				im.warnf(at, "%s set again (first at line %d): both lists are used", key, first.line)
			}
			seen[key] = at
			for _, h := range strings.Fields(val) {
				r := im.zeusNode(at, key, h, port)
				if r == nil {
					continue
				}
				if key == "MASTERS" {
					s.reals = append(s.reals, r)
				} else {
					s.backups = append(s.backups, r)
				}
			}
			if strings.TrimSpace(val) == "" {
				im.warnf(at, "%s is empty", key)
			}
		case "SCRIPT":
			words, ok := shellWords(val)
			if !ok || len(words) == 0 || words[0] == "" {
				im.refusef(at, "SCRIPT %q: want a program and its arguments; monitor not imported", val)
				continue
			}
			if !filepath.IsAbs(words[0]) {
				im.refusef(at, "SCRIPT %s: want the program's absolute path (had runs it with no shell and no PATH search); monitor not imported", words[0])
				continue
			}
			s.monitors = append(s.monitors, &monitor{at: at, script: words[0], args: words[1:]})
		case "TIMEPERIOD":
			n, err := strconv.Atoi(strings.TrimSpace(val))
			if err != nil || n < 1 || n > 86400 {
				im.warnf(at, "TIMEPERIOD %q is not a number of seconds 1..86400; hapair's monitor interval (5s) used", val)
				continue
			}
			if first, dup := seen[key]; dup {
				im.warnf(at, "TIMEPERIOD set again (first at line %d); the last one is used", first.line)
			}
			seen[key] = at
			period, periodAt = time.Duration(n)*time.Second, at
		default:
			im.warnf(at, "unknown monitor.cfg setting %q; ignored (monitor.cfg has MASTERS, SLAVES, SCRIPT and TIMEPERIOD)", key)
		}
	}
	for _, mo := range s.monitors {
		mo.interval = period
	}
	if period > 0 && len(s.monitors) == 0 {
		im.warnf(periodAt, "TIMEPERIOD without any SCRIPT: nothing to run")
	}
	if len(s.backups) > 0 && len(s.monitors) == 0 {
		im.warnf(s.at, "SLAVES without any SCRIPT: the backups serve only while every master is down")
	}
	if len(s.backups) == 0 {
		// hapair's monitors only choose between the reals and the
		// backups: with no backups they would change nothing (the
		// config check refuses them).
		for _, mo := range s.monitors {
			im.warnf(mo.at, "SCRIPT %s: not carried over: there are no SLAVES to move to (Zeus took every master out of service on FAIL, leaving none; hapair's monitors only move new connections to the backups)", mo.script)
		}
		s.monitors = nil
	}
	s.notes = append(s.notes, "Zeus master/slave pools: reals are MASTERS, backups are SLAVES; traffic moves to the backups while a monitor prints FAIL (or every master is down)")
	im.m.services = append(im.m.services, s)
	if s.listen == "" {
		im.zeusPlaceholder(s)
	}
	im.m.template = true
	return im.result()
}

// zeusKV splits "KEY = value" (or "KEY value").
func zeusKV(s string) (string, string) {
	if k, v, ok := strings.Cut(s, "="); ok && !strings.ContainsAny(strings.TrimSpace(k), " \t") {
		return strings.TrimSpace(k), strings.TrimSpace(v)
	}
	f := strings.Fields(s)
	return f[0], strings.TrimSpace(strings.TrimPrefix(s, f[0]))
}

func (im *importer) zeusNode(at src, key, h string, port int) *real {
	hp, err := parseHostPort(h, port)
	if err != nil {
		im.refusef(at, "%s entry %q: %v; not imported", key, h, err)
		return nil
	}
	return &real{at: at, address: hp.String()}
}

// zeusPlaceholder gives s, whose address monitor.cfg does not say, a
// documentation-range (RFC 5737) listen address, which the template group
// then holds as its VIP: the import loads, and is incomplete (exit 1) until
// the address is written. s is already in the model, so the placeholder is
// none of its reals' addresses.
func (im *importer) zeusPlaceholder(s *service) {
	addr := "192.0.2.1" // only a source naming every documentation address lacks one
	if a, ok := im.placeholders(1, 0); ok {
		addr = a[0]
	}
	s.listen = netip.AddrPortFrom(netip.MustParseAddr(addr), zeusPort).String()
	s.notes = append(s.notes, "PLACEHOLDER listen: a documentation-range (RFC 5737) address for the Zeus service's address and port, which monitor.cfg does not say (hactl import zeus -listen ADDR:PORT)")
	im.refusef(s.at, "monitor.cfg does not say which address and port its pools serve: listen = %q, a documentation-range (RFC 5737) placeholder, stands in, and is the group's VIP; give the service's address with -listen ADDR:PORT", s.listen)
}
