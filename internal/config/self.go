package config

import (
	"fmt"
	"os"
	"slices"
	"strings"
)

// Self returns this node's name: hostnameOverride (had --node) when set,
// else the host name, or its first label when only that is listed. It is an
// error when the name is not in cluster.nodes.
func (c *Config) Self(hostnameOverride string) (string, error) {
	return c.self(hostnameOverride, os.Hostname)
}

func (c *Config) self(override string, hostname func() (string, error)) (string, error) {
	if override != "" {
		if slices.Contains(c.Cluster.Nodes, override) {
			return override, nil
		}
		return "", fmt.Errorf("config: node %q (from --node) is not in cluster.nodes %q of %s", override, c.Cluster.Nodes, c.File)
	}
	h, err := hostname()
	if err != nil {
		return "", fmt.Errorf("config: finding the node name: %w (use --node)", err)
	}
	if slices.Contains(c.Cluster.Nodes, h) {
		return h, nil
	}
	if short, _, _ := strings.Cut(h, "."); slices.Contains(c.Cluster.Nodes, short) {
		return short, nil
	}
	return "", fmt.Errorf("config: host name %q is not in cluster.nodes %q of %s (use --node NAME)", h, c.Cluster.Nodes, c.File)
}
