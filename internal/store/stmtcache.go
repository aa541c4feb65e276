package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"reflect"

	"modernc.org/sqlite"
)

// stmtCacheSize bounds the statements one SQLite connection keeps. The
// store's queries are a few hundred texts at most (the list filters build
// a few dozen variants); past the bound the idle ones are dropped and
// prepared again as used.
const stmtCacheSize = 256

// openSQLite opens a pool on dsn whose connections keep the statements
// they prepare. database/sql prepares and finalizes a statement for every
// query that is not an explicit sql.Stmt, and SQLite's parser and planner
// took a sixth of the load test's CPU (pprof, 10 users): every page and
// every write paid it again, the writes inside the one writer's turn.
func openSQLite(dsn string) (*sql.DB, error) {
	base, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(cachingConnector{base}), nil
}

type cachingConnector struct{ base driver.Connector }

func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	sc, ok := conn.(sqliteConn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("store: the SQLite driver's connection (%T) lacks an interface the cache forwards", conn)
	}
	return &cachingConn{c: sc, stmts: map[string]*cachedStmt{}}, nil
}

func (c cachingConnector) Driver() driver.Driver { return c.base.Driver() }

// sqliteConn is what modernc.org/sqlite's connections implement, and so
// what the cache must forward (its connector's documentation lists them).
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// cachingConn is one connection and its statements. database/sql uses a
// connection from one goroutine at a time (closing a result's rows
// included), so the map needs no lock.
type cachingConn struct {
	c     sqliteConn
	stmts map[string]*cachedStmt
}

// cachedStmt is a prepared statement and whether a result still reads
// from it: a query run again while its earlier rows are open (a loop that
// queries inside another's rows) gets a statement of its own.
type cachedStmt struct {
	s    driver.Stmt
	busy bool
	gone bool // dropped from the cache while busy: closed when released
}

// stmt returns a prepared statement for q and the function that gives it
// back when its use ends.
func (c *cachingConn) stmt(ctx context.Context, q string) (driver.Stmt, func(), error) {
	if cs, ok := c.stmts[q]; ok && !cs.busy {
		cs.busy = true
		return cs.s, func() { c.release(cs) }, nil
	} else if ok {
		s, err := c.c.PrepareContext(ctx, q)
		if err != nil {
			return nil, nil, err
		}
		return s, func() { s.Close() }, nil
	}
	s, err := c.c.PrepareContext(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	if len(c.stmts) >= stmtCacheSize {
		c.shrink()
	}
	cs := &cachedStmt{s: s, busy: true}
	c.stmts[q] = cs
	return s, func() { c.release(cs) }, nil
}

func (c *cachingConn) release(cs *cachedStmt) {
	cs.busy = false
	if cs.gone {
		cs.s.Close()
	}
}

// shrink drops every statement from the cache; the ones in use are
// closed when released.
func (c *cachingConn) shrink() {
	for q, cs := range c.stmts {
		if cs.busy {
			cs.gone = true
		} else {
			cs.s.Close()
		}
		delete(c.stmts, q)
	}
}

func (c *cachingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	s, release, err := c.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	defer release()
	return s.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (c *cachingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	s, release, err := c.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	rows, err := s.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		release()
		return nil, err
	}
	return &cachedRows{Rows: rows, release: release}, nil
}

func (c *cachingConn) Close() error {
	c.shrink()
	return c.c.Close()
}

// Unwrap is the driver's connection (modernc.org/sqlite's Limit and
// similar helpers look through wrappers with it).
func (c *cachingConn) Unwrap() driver.Conn { return c.c }

func (c *cachingConn) Prepare(q string) (driver.Stmt, error) { return c.c.Prepare(q) }
func (c *cachingConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	return c.c.PrepareContext(ctx, q)
}
func (c *cachingConn) Begin() (driver.Tx, error) {
	return c.c.BeginTx(context.Background(), driver.TxOptions{})
}
func (c *cachingConn) BeginTx(ctx context.Context, o driver.TxOptions) (driver.Tx, error) {
	return c.c.BeginTx(ctx, o)
}
func (c *cachingConn) Ping(ctx context.Context) error         { return c.c.Ping(ctx) }
func (c *cachingConn) ResetSession(ctx context.Context) error { return c.c.ResetSession(ctx) }
func (c *cachingConn) IsValid() bool                          { return c.c.IsValid() }

// cachedRows gives its statement back when closed; it forwards the
// column-type interfaces the driver's rows implement.
type cachedRows struct {
	driver.Rows
	release func()
	closed  bool
}

func (r *cachedRows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	err := r.Rows.Close()
	r.release()
	return err
}

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *cachedRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *cachedRows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}
