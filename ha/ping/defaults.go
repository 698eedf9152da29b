package ping

import "time"

// TimeoutFor returns the default probe timeout for a check run every
// interval: DefaultTimeout, or interval when that is shorter, so a probe
// ends before the next one is due.
func TimeoutFor(interval time.Duration) time.Duration { return min(DefaultTimeout, interval) }
