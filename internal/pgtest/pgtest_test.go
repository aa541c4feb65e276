package pgtest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The cluster answers, refuses connections once stopped (either way) and
// answers again, with what was committed before a crash kept.
func TestClusterStopsAndStarts(t *testing.T) {
	c := Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	exec := func(sql string) error {
		conn, err := pgx.Connect(ctx, c.URL())
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec(`CREATE TABLE kept (n int); INSERT INTO kept VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"fast", "immediate"} {
		c.Stop(mode)
		if err := exec(`SELECT 1`); err == nil {
			t.Fatalf("stopped (%s), the cluster still answers", mode)
		}
		c.Start()
		if err := exec(`SELECT n FROM kept`); err != nil {
			t.Fatalf("after a %s stop and a start: %v", mode, err)
		}
	}
}
