package agent

import "context"

// Sync waits until the agent has handled every event queued so far.
func (a *Agent) Sync(ctx context.Context) error { return a.do(ctx, func() {}) }
