// Package crd embeds the generated CustomResourceDefinitions of config/crd/bases, so that
// programs can validate fleet objects against the very schemas the API server serves.
package crd

import "embed"

// Bases holds config/crd/bases/*.yaml, the CRDs as controller-gen writes them.
//
//go:embed bases/*.yaml
var Bases embed.FS
