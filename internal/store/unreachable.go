package store

import (
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// Unreachable reports whether err says the database did not answer: a
// connection that could not be made or was lost, or a PostgreSQL server
// shutting down, starting up or in recovery. Such a request failed
// without changing anything it did not commit, and the same request is
// likely to work again in a moment, so people are told so (503) instead
// of "something went wrong".
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	var (
		ce *pgconn.ConnectError
		pe *pgconn.PgError
		ne net.Error
	)
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &ce), errors.As(err, &ne):
		return true
	case errors.As(err, &pe):
		// Class 08: connection exceptions; 57P01–57P03: the server is
		// shutting down, crashed or is not accepting connections yet.
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	// pgx says "conn closed" (a plain error) for a connection the server
	// dropped; SafeToRetry marks failures before anything was sent.
	return pgconn.SafeToRetry(err) || strings.Contains(err.Error(), "conn closed")
}
