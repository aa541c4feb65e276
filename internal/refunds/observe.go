package refunds

import "time"

// Observer hears what the worker and the NeoX calls do, for metrics. Its
// methods run on the worker's path, once per call or job: they must be
// cheap and must not block (count, never write to the database).
type Observer interface {
	// NeoXCall is one call the desk made to NeoX through a product:
	// op is the operation (refund, query_pt, get_refund, ...), outcome
	// success, rejected, unknown or duplicate.
	NeoXCall(api API, op, outcome string, latency time.Duration)
	// WorkerSend is one send attempt the worker finished: outcome is the
	// refund call's (success, rejected, unknown, duplicate), or
	// reconciled when asking NeoX first showed it already held the refund.
	WorkerSend(api API, outcome string)
	// WorkerPoll is one status poll of a PROCESSING refund: the poll
	// call's outcome.
	WorkerPoll(api API, outcome string)
}

// nopObserver is the Observer when none is given.
type nopObserver struct{}

func (nopObserver) NeoXCall(API, string, string, time.Duration) {}
func (nopObserver) WorkerSend(API, string)                      {}
func (nopObserver) WorkerPoll(API, string)                      {}

// sendOutcomeOf names how a send attempt ended, for WorkerSend.
func sendOutcomeOf(done bool, calls []call) string {
	if done {
		return "reconciled"
	}
	if len(calls) == 0 {
		return "unknown"
	}
	return calls[len(calls)-1].outcome
}
