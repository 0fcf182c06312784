package gitsource

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
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

// PullRequestHistory is the head of a pull request and the branch it targets, fetched
// into memory with recent history, to tell what the pull request itself changes: the
// difference between its head and the merge base, as the forge's "files changed" shows,
// and not the changes made to the branch since the pull request left it.
type PullRequestHistory struct {
	// Head is the pull request's head commit, and Ref the ref it was read from.
	Head, Ref string
	// Branch is the target branch, and BranchHead its head commit.
	Branch, BranchHead string
	// MergeBase is the newest commit in the history of both (where the pull request left
	// the branch, or last took it in); "" when it lies beyond the depth read.
	MergeBase string

	st *memory.Storage
}

// LoadPullRequest fetches branch and the first of refs (full ref names, see
// PullRequestRefs) that the repository has, with depth commits of history each (0 means
// DefaultHistoryDepth), and finds their merge base. It wraps ErrBranchNotFound when the
// branch or every ref is missing; errors are classified like Fetch's.
func LoadPullRequest(ctx context.Context, url string, auth *Auth, refs []string, branch string, depth int) (*PullRequestHistory, error) {
	if depth <= 0 {
		depth = DefaultHistoryDepth
	}
	am, err := authMethod(url, auth)
	if err != nil {
		return nil, classify("fetch", url, err)
	}
	st := memory.NewStorage()
	remote := git.NewRemote(st, &config.RemoteConfig{Name: git.DefaultRemoteName, URLs: []string{url}})
	fetch := func(from string, to plumbing.ReferenceName) (plumbing.Hash, error) {
		return fetchRef(ctx, remote, st, from, to, depth, am)
	}
	p := &PullRequestHistory{Branch: branch, st: st}
	base, err := fetch(plumbing.NewBranchReferenceName(branch).String(), plumbing.NewRemoteReferenceName(git.DefaultRemoteName, branch))
	if err != nil {
		if isBranchError(err) {
			err = fmt.Errorf("branch %q: %w", branch, ErrBranchNotFound)
		}
		return nil, classify("fetch "+branch+" of", url, err)
	}
	p.BranchHead = base.String()
	for _, r := range refs {
		head, err := fetch(r, "refs/gitfleet/pull-request")
		if err != nil {
			if isBranchError(err) {
				continue
			}
			return nil, classify("fetch "+r+" of", url, err)
		}
		p.Head, p.Ref = head.String(), r
		break
	}
	if p.Head == "" {
		return nil, classify("fetch", url, fmt.Errorf("none of %v: %w", refs, ErrBranchNotFound))
	}
	p.MergeBase = mergeBase(st, plumbing.NewHash(p.Head), base)
	return p, nil
}

// mergeBase returns the newest common ancestor of a and b, or "" when there is none
// within the history read (a shallow boundary ends the walk).
func mergeBase(st *memory.Storage, a, b plumbing.Hash) string {
	ca, err := object.GetCommit(st, a)
	if err != nil {
		return ""
	}
	cb, err := object.GetCommit(st, b)
	if err != nil {
		return ""
	}
	bases, err := ca.MergeBase(cb)
	if err != nil || len(bases) == 0 {
		return ""
	}
	newest := bases[0]
	for _, c := range bases[1:] {
		if c.Committer.When.After(newest.Committer.When) {
			newest = c
		}
	}
	return newest.Hash.String()
}

// Export writes the files of commit sha (the head, the branch head, or the merge base)
// into dir, which must be empty or missing, as Fetch's work tree.
func (p *PullRequestHistory) Export(sha, dir string) error {
	if sha == "" || (sha != p.Head && sha != p.BranchHead && sha != p.MergeBase) {
		return fmt.Errorf("commit %q is not the head, the branch head or the merge base of the pull request: %w", sha, ErrCommitNotFound)
	}
	return exportCommit(p.st, sha, dir)
}

// fetchRef fetches the ref from (a full name) of remote into the local ref to of st,
// with depth commits of history, and returns the commit it points at.
func fetchRef(ctx context.Context, remote *git.Remote, st *memory.Storage, from string, to plumbing.ReferenceName, depth int, am transport.AuthMethod) (plumbing.Hash, error) {
	err := remote.FetchContext(ctx, &git.FetchOptions{
		RemoteName: git.DefaultRemoteName,
		RefSpecs:   []config.RefSpec{config.RefSpec("+" + from + ":" + to.String())},
		Depth:      depth,
		Auth:       am,
		Tags:       git.NoTags,
		Force:      true,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return plumbing.ZeroHash, err
	}
	ref, err := st.Reference(to)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return ref.Hash(), nil
}
