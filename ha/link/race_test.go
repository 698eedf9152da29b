//go:build race

package link

// raceEnabled: under the race detector sync.Pool drops some of what is put
// back, so pooled MAC states are rebuilt and allocation counts mean nothing.
const raceEnabled = true
