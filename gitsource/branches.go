package gitsource

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
)

// DeleteBranch deletes branch from the repository at url, if it still points at expected
// (a full sha; empty deletes whatever it points at). A missing branch is not an error. Use
// it for pull request branches (gitfleet/promote/<stage>) after a merge or a rejection;
// the writer's cache of the branch is dropped.
func (w *Writer) DeleteBranch(ctx context.Context, url, branch string, auth *Auth, expected string) error {
	op := "delete branch " + branch + " of"
	am, err := authMethod(url, auth)
	if err != nil {
		return classify(op, url, err)
	}
	c := w.cache(url, branch)
	c.mu.Lock()
	defer c.mu.Unlock()
	heads, err := c.remoteHeads(ctx, am)
	if err != nil {
		return classify(op, url, err)
	}
	head, ok := heads[branch]
	if !ok {
		return nil
	}
	if expected != "" && head.String() != expected {
		return fmt.Errorf("%s %s: branch is at %s, not %s: %w", op, RedactURL(url), head, expected, ErrConflict)
	}
	ref := plumbing.NewBranchReferenceName(branch)
	err = c.remote.PushContext(ctx, &git.PushOptions{
		RemoteName:        git.DefaultRemoteName,
		RefSpecs:          []config.RefSpec{config.RefSpec(":" + ref.String())},
		RequireRemoteRefs: []config.RefSpec{config.RefSpec(head.String() + ":" + ref.String())},
		Auth:              am,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return classify(op, url, err)
	}
	w.mu.Lock()
	delete(w.caches, url+"\x00"+branch)
	w.mu.Unlock()
	return nil
}
