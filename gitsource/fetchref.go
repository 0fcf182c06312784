package gitsource

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/memory"
)

// PullRequestRefs are the refs that may hold the head of pull request number whose head
// branch is head, in the order to try: the forge's refs/pull/<n>/head (GitHub and Gitea
// keep it, also for pull requests from forks), then the branch itself.
func PullRequestRefs(number int, head string) []string {
	refs := []string{fmt.Sprintf("refs/pull/%d/head", number)}
	if head != "" {
		refs = append(refs, plumbing.NewBranchReferenceName(head).String())
	}
	return refs
}

// ExportRef fetches the first of refs (full ref names) that the repository has, at depth
// 1, and writes the files of its commit into dir, which must be empty or missing (a
// listing is kept in dir/.git). It returns the commit and the ref it came from; it wraps
// ErrBranchNotFound when the repository has none of refs.
func ExportRef(ctx context.Context, url string, auth *Auth, refs []string, dir string) (sha, ref string, err error) {
	am, err := authMethod(url, auth)
	if err != nil {
		return "", "", classify("fetch", url, err)
	}
	st := memory.NewStorage()
	remote := git.NewRemote(st, &config.RemoteConfig{Name: git.DefaultRemoteName, URLs: []string{url}})
	for _, r := range refs {
		local := plumbing.ReferenceName("refs/gitfleet/export")
		err := remote.FetchContext(ctx, &git.FetchOptions{
			RemoteName: git.DefaultRemoteName,
			RefSpecs:   []config.RefSpec{config.RefSpec("+" + r + ":" + local.String())},
			Depth:      1,
			Auth:       am,
			Tags:       git.NoTags,
			Force:      true,
		})
		if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
			if isBranchError(err) {
				continue
			}
			return "", "", classify("fetch "+r+" of", url, err)
		}
		head, err := st.Reference(local)
		if err != nil {
			continue
		}
		if err := os.MkdirAll(filepath.Join(dir, ".git"), 0o755); err != nil {
			return "", "", err
		}
		if err := materialize(st, dir, head.Hash()); err != nil {
			return "", "", fmt.Errorf("export %s of %s: %w", r, RedactURL(url), err)
		}
		return head.Hash().String(), r, nil
	}
	return "", "", classify("fetch", url, fmt.Errorf("none of %v: %w", refs, ErrBranchNotFound))
}
