//go:build race

package l4

// raceEnabled: the race detector roughly doubles heap and stack per goroutine.
const raceEnabled = true
