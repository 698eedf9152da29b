// Package serviceconf reads had.toml's [[service]] section with the
// balancer's own defaults and rules: proxy.ServiceConfig's WithDefaults
// and Validate, proxy/check's check types, proxy/nft's limits of the
// kernel methods (nat, dr). It implements config.ServiceRules over
// internal/config's key index (config.Keys), so every error still names
// FILE:LINE:COL and the key path, and maps a config.Service onto the
// proxy.ServiceConfig the balancer runs (Spec).
//
// internal/config may not import proxy/... (only package node joins
// ha/ and proxy/, test/archtest), so it reads the section through this
// package, which package node hands it (node.ConfigOptions): `had`,
// `had --check` and `hactl check-config` read a file with the same rules.
// It decodes nothing itself (go-toml is internal/config's) and starts
// nothing.
package serviceconf
