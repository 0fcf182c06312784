// Package bench holds the agent's benchmark (build tag bench): gitfleet-agent against
// `kubectl apply --server-side` on the same 1000-object tree and the same kind of API
// server, idle cost with 1000 watched objects, and drift detection latency. It writes
// ../BENCHMARKS.md. Run it with:
//
//	go test -tags bench -run TestAgentBenchmark -v -timeout 30m ./controllers/agent/bench/
package bench
