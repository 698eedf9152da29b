package serviceconf

import (
	"slices"
	"strings"

	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/internal/field"
	"github.com/hapair/hapair/proxy"
	"github.com/hapair/hapair/proxy/check"
)

// check reads a service's check table. A tcp service with no type gets
// check.DefaultType; a udp one must name a type that probes UDP. Type
// "off" (check.Off) is no check: the Spec's Type is "" and every real is
// up. Every key the type does not use is an error at that key.
func (c *reader) check(path string, r *config.RawCheck, protocol string) check.Spec {
	s := check.Spec{
		Type:     c.k.Str(path+".type", r.Type, ""),
		Request:  c.k.Str(path+".request", r.Request, ""),
		Host:     c.k.Str(path+".host", r.Host, ""),
		Status:   int(c.k.Integer(path+".status", r.Status, 0, 100, 599)),
		Port:     int(c.k.Integer(path+".port", r.Port, 0, 1, 65535)),
		Program:  r.Program,
		Interval: c.k.Duration(path+".interval", r.Interval, 0, false),
		Timeout:  c.k.Duration(path+".timeout", r.Timeout, 0, false),
		Rise:     int(c.k.Integer(path+".rise", r.Rise, 0, 1, check.MaxRiseFall)),
		Fall:     int(c.k.Integer(path+".fall", r.Fall, 0, 1, check.MaxRiseFall)),
	}
	if c.k.Wrong(path + ".interval") {
		// The interval's own error is the one: the timeout is not
		// compared with a default standing in for it.
		s.Timeout = 0
	}
	if c.k.Has(path + ".args") {
		s.Args = append([]string{}, r.Args...)
	}
	if c.k.Has(path + ".program") {
		s.Program = c.k.Str(path+".program", r.Program, "")
	}
	if c.k.Has(path + ".receive") {
		s.Receive = c.k.Regexp(path+".receive", r.Receive)
	}
	if s.Type == check.Off {
		// No check: every real counts as up (ldirectord's checktype=on).
		// Any other key would configure a check that never runs.
		for _, k := range c.k.ChildKeys(path) {
			if k != "type" {
				c.k.KeyErrorf(path+"."+k, "key %q is not used by check type %q (no checks run)", k, check.Off)
			}
		}
		return check.Spec{}
	}
	if s.Type == "" {
		if protocol == "udp" {
			c.k.Errorf(path+".type", "required for udp services: a UDP connect probes nothing (want %s)", strings.Join(proxy.UDPChecks(), " or "))
			return s
		}
		s.Type = check.DefaultType
	}
	if t, err := check.Lookup(s.Type); err == nil {
		for _, k := range c.k.ChildKeys(path) {
			if !t.Uses(k) && slices.Contains(check.AllKeys(), k) {
				c.k.KeyErrorf(path+"."+k, "%s", field.All(check.UnusedKey(s.Type, k))[0].Msg)
			}
		}
	}
	return s
}
