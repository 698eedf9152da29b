package config

import (
	"fmt"
	"os"
	"slices"
	"strings"
)

// Self returns this node's name: hostnameOverride (had --node) when set,
// else the host name, or its first label when only that is listed, as
// cluster.nodes spells it. Names match ignoring case, as Heartbeat's do
// (it lowercases uname -n and node names alike), so a host called LB1 is
// node lb1. It is an error when the name is not in cluster.nodes.
func (c *Config) Self(hostnameOverride string) (string, error) {
	return c.self(hostnameOverride, os.Hostname)
}

func (c *Config) self(override string, hostname func() (string, error)) (string, error) {
	if override != "" {
		if n, ok := c.node(override); ok {
			return n, nil
		}
		return "", fmt.Errorf("node %q (from --node) is not in cluster.nodes %q of %s", override, c.Cluster.Nodes, c.File)
	}
	h, err := hostname()
	if err != nil {
		return "", fmt.Errorf("cannot find this host's name: %w (name the node with --node)", err)
	}
	if n, ok := c.node(h); ok {
		return n, nil
	}
	if short, _, _ := strings.Cut(h, "."); short != h {
		if n, ok := c.node(short); ok {
			return n, nil
		}
	}
	return "", fmt.Errorf("host name %q is not in cluster.nodes %q of %s (name the node with --node NAME)", h, c.Cluster.Nodes, c.File)
}

// node returns the node of cluster.nodes called name, ignoring case.
func (c *Config) node(name string) (string, bool) {
	i := slices.IndexFunc(c.Cluster.Nodes, func(n string) bool { return strings.EqualFold(n, name) })
	if i < 0 {
		return "", false
	}
	return c.Cluster.Nodes[i], true
}
