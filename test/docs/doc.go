// Package docs holds the tests that keep the user docs (README.md, docs/*.md, docs/api/*.md)
// true to the code: every `gitfleet` command and flag they name exists, every condition
// type, condition reason and event reason they name is one the code uses, and every API
// field path (`spec.x.y`, `Kind.status.z`) is in the CRD schemas, the flags of
// gitfleet-hub and gitfleet-agent exist, links reach a file and heading that exist, and
// repository paths (`controllers/agent/report.go`) exist. It also generates
// docs/api/reference.md from the CRDs in config/crd/bases and fails when it is stale.
//
// Regenerate the generated pages with
//
//	go test ./test/docs -run TestAPIReference -update
//	go test ./cmd/gitfleet -run TestCLIReference -update
package docs
