// Package outcome is the reconcile plumbing every gitfleet reconciler shares (hub and
// agent): what one pass over an object ends with.
//
//   - Three kinds of error decide what happens after a pass, in one place (Result):
//     stalling (the user must change the spec: Stalled=True, no retry until it changes),
//     waiting (something else must happen first: retried after a delay, not an error)
//     and transient (anything else: returned, retried with backoff). WithReason gives a
//     transient error a condition reason.
//   - The condition helpers stamp conditions with the object's generation and derive
//     the kstatus ones (Finish): Ready from the pass's error, Reconciling and Stalled
//     present only while True.
//   - End is the one deferred function of a Reconcile: it summarises the conditions,
//     writes status.observedGeneration only when the pass ends Ready, patches the status
//     against the object as it was read, records the outcome (metrics) and returns what
//     controller-runtime should do next.
//
// A Reconcile reads as a list of steps:
//
//	obj := ...; get it
//	end := outcome.Begin(r.Client, obj)
//	var err error
//	defer func() { res, retErr = end.Finish(ctx, err, outcome.Summary{...}) }()
//	for _, step := range []func(context.Context, *pass) error{...} {
//		if err = step(ctx, p); err != nil {
//			return
//		}
//	}
package outcome
