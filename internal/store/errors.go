package store

import "errors"

// ErrNotFound is returned by the store's typed reads when no row matches;
// domain packages translate it into their own not-found errors.
var ErrNotFound = errors.New("not found")
