package store

import "errors"

// ErrNotFound is what a store operation returns, wrapped or not, when the
// row it reads or changes does not exist; domain packages test it with
// errors.Is and say it in their own words.
var ErrNotFound = errors.New("not found")

// ErrConflict: the row exists in a state the operation does not change
// (PutPendingTOTP over a confirmed authenticator).
var ErrConflict = errors.New("conflict")
