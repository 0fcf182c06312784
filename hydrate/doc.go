// Package hydrate turns a fleet config checkout into the trees of its environment
// branches: for every placement of a source it schedules clusters, renders the content
// for each selected cluster with its overrides, assigns clusters to pipeline stages, and
// lays the results out as DESIGN.md's branch layout:
//
//	env/<stage>:
//	  gitfleet.json                     # dry repo + SHA, stage, tool versions, per-cluster digests
//	  README.md                         # what this branch is, how to reproduce it
//	  clusters/<cluster>/<placement>/<namespace>/<kind>-<name>.yaml
//
// It is pure (no API server, no Git): the hub's hydration controller and the `gitfleet
// render` CLI run the same code, so a checkout renders locally exactly as the hub would.
package hydrate
