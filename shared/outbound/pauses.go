package outbound

import "context"

// setPause stores a hold; the next request's state read sees it.
func (c *Consumer) setPause(ctx context.Context, p Pause) error {
	return c.o.Store.SetPause(ctx, p)
}
