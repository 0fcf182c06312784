package hub

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gitfleet/gitfleet/hydrate"
)

// parseMetadata reads an env branch's gitfleet.json.
func parseMetadata(data []byte) (*hydrate.Metadata, error) {
	if len(data) == 0 {
		return nil, errors.New("missing: the branch was not written by gitfleet")
	}
	var m hydrate.Metadata
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decoding: %w", err)
	}
	if m.Source.Commit == "" {
		return nil, errors.New("names no source commit")
	}
	return &m, nil
}
