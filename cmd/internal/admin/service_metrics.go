package admin

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hapair/hapair/proxy"
)

func (c *collector) collectService(ch chan<- prometheus.Metric, s proxy.ServiceStatus) {
	gauge(ch, descServiceUp, bool01(s.Active), s.Name)
	for _, p := range servicePools {
		gauge(ch, descServicePool, bool01(s.Pool == p), s.Name, p)
	}
	var took, refused, noReal uint64
	var open int64
	switch st := s.Stats; {
	case st.TCP != nil:
		took, refused, noReal, open = st.TCP.Accepted, st.TCP.Refused, st.TCP.NoReal, st.TCP.Open
		counter(ch, descServiceBytes, st.TCP.BytesIn, s.Name, "in")
		counter(ch, descServiceBytes, st.TCP.BytesOut, s.Name, "out")
	case st.UDP != nil:
		took, refused, noReal, open = st.UDP.FlowsOpened, st.UDP.Refused, st.UDP.NoReal, int64(st.UDP.Flows)
		counter(ch, descServiceBytes, st.UDP.BytesIn, s.Name, "in")
		counter(ch, descServiceBytes, st.UDP.BytesOut, s.Name, "out")
	case st.HTTP != nil:
		took, refused, noReal, open = st.HTTP.Requests, st.HTTP.Refused, st.HTTP.NoReal, st.HTTP.InFlight
		counter(ch, descServiceBytes, st.HTTP.BytesIn, s.Name, "in")
		counter(ch, descServiceBytes, st.HTTP.BytesOut, s.Name, "out")
	}
	counter(ch, descServiceConns, took, s.Name)
	counter(ch, descServiceRef, refused, s.Name)
	counter(ch, descServiceNoRl, noReal, s.Name)
	gauge(ch, descServiceOpen, float64(open), s.Name)
	reals := s.Reals
	if s.Fallback != nil {
		reals = append(reals[:len(reals):len(reals)], *s.Fallback)
	}
	for _, r := range reals {
		gauge(ch, descRealUp, bool01(r.Healthy), s.Name, r.Address, r.Pool)
		gauge(ch, descRealWeight, float64(r.Effective), s.Name, r.Address, r.Pool)
		gauge(ch, descRealActive, float64(r.ActiveConn), s.Name, r.Address, r.Pool)
		gauge(ch, descRealInactive, float64(r.InActConn), s.Name, r.Address, r.Pool)
		counter(ch, descRealSched, r.Scheduled, s.Name, r.Address, r.Pool)
		counter(ch, descRealBytes, r.BytesIn, s.Name, r.Address, r.Pool, "in")
		counter(ch, descRealBytes, r.BytesOut, s.Name, r.Address, r.Pool, "out")
		if r.Pool == "fallback" {
			continue // never checked
		}
		counter(ch, descRealChecks, r.Checks-r.CheckFailures, s.Name, r.Address, r.Pool, "ok")
		counter(ch, descRealChecks, r.CheckFailures, s.Name, r.Address, r.Pool, "failed")
		ch <- prometheus.MustNewConstMetric(descRealCheckDur, prometheus.CounterValue, r.CheckSeconds, s.Name, r.Address, r.Pool)
		gauge(ch, descRealLastChk, r.LastCheckSeconds, s.Name, r.Address, r.Pool)
	}
}
