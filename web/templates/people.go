package templates

import (
	"context"
	"sync"
)

type peopleKey struct{}

// WithPeople lets pages name people as the header does, by display name:
// names (user id → display name) is called at most once per request, and
// only when a page shows someone.
func WithPeople(ctx context.Context, names func() map[int64]string) context.Context {
	return context.WithValue(ctx, peopleKey{}, sync.OnceValue(names))
}

// personName is how the page names user id: the display name when known,
// else the name stored with the record (the username at the time).
func personName(ctx context.Context, id int64, stored string) string {
	if names, ok := ctx.Value(peopleKey{}).(func() map[int64]string); ok {
		if n := names()[id]; n != "" {
			return n
		}
	}
	return stored
}
