package gitsource

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"
)

// FetchOptions says what Fetch gets and where it keeps it.
type FetchOptions struct {
	// URL of the repository: https://, http://, ssh://, scp-like user@host:path, file://
	// or a local path.
	URL string
	// Branch to fetch (required).
	Branch string
	// Auth is optional: nil for anonymous HTTPS and local repositories.
	Auth *Auth
	// Dir is the local cache directory for this repository and branch, reused across
	// fetches: the second Fetch into the same Dir only transfers new objects. Fetch owns
	// the directory: it may delete and re-create it when it does not hold a clone of URL.
	Dir string
	// Depth of the history to fetch; 0 means 1 (shallow).
	Depth int
}

// Checkout is the result of Fetch.
type Checkout struct {
	// Dir is the work tree with the files of the commit.
	Dir string
	// Commit is the full SHA-1 of the fetched commit.
	Commit string
	// Revision is "<branch>@sha1:<sha>", as GitSource and ClusterSync status show it.
	Revision string
}

// Revision formats a branch and commit as "<branch>@sha1:<sha>".
func Revision(branch, sha string) string { return branch + "@sha1:" + sha }

// dirLocks serialises Fetch calls on the same Dir within the process.
var dirLocks sync.Map // map[string]*sync.Mutex

func lockDir(dir string) func() {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	m, _ := dirLocks.LoadOrStore(abs, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// Fetch brings opts.Branch of opts.URL into opts.Dir: a single-branch, shallow clone the
// first time, then an incremental fetch followed by a hard reset (and removal of untracked
// files), so the work tree holds exactly the branch head. Errors wrap ErrAuthentication,
// ErrBranchNotFound or ErrUnreachable when they are one of those, and never contain
// credentials. Fetch calls on the same Dir are serialised within the process.
func Fetch(ctx context.Context, opts FetchOptions) (*Checkout, error) {
	if opts.URL == "" || opts.Branch == "" || opts.Dir == "" {
		return nil, errors.New("fetch: URL, Branch and Dir are required")
	}
	if opts.Depth <= 0 {
		opts.Depth = 1
	}
	am, err := authMethod(opts.URL, opts.Auth)
	if err != nil {
		return nil, classify("fetch", opts.URL, err)
	}
	defer lockDir(opts.Dir)()

	repo, err := openCache(opts.Dir, opts.URL)
	if err == nil && repo != nil {
		co, ferr := fetchInto(ctx, repo, opts, am)
		if ferr == nil {
			return co, nil
		}
		// A classified failure (auth, branch, network) or a cancelled context is the
		// answer; anything else may be a damaged cache: start again from scratch.
		if isFinal(ctx, ferr) {
			return nil, classify("fetch", opts.URL, ferr)
		}
	}
	if err := resetDir(opts.Dir); err != nil {
		return nil, fmt.Errorf("fetch: prepare %s: %w", opts.Dir, err)
	}
	repo, err = git.PlainCloneContext(ctx, opts.Dir, false, &git.CloneOptions{
		URL:           opts.URL,
		Auth:          am,
		RemoteName:    git.DefaultRemoteName,
		ReferenceName: plumbing.NewBranchReferenceName(opts.Branch),
		SingleBranch:  true,
		Depth:         opts.Depth,
		Tags:          git.NoTags,
	})
	if err != nil {
		_ = resetDir(opts.Dir)
		return nil, classify("fetch", opts.URL, err)
	}
	head, err := repo.Head()
	if err != nil {
		return nil, classify("fetch", opts.URL, err)
	}
	sha := head.Hash().String()
	return &Checkout{Dir: opts.Dir, Commit: sha, Revision: Revision(opts.Branch, sha)}, nil
}

func isFinal(ctx context.Context, err error) bool {
	return ctx.Err() != nil || isAuthError(err) || isBranchError(err) || isUnreachable(err)
}

// openCache opens dir as a clone of rawURL; it returns nil when dir holds something else.
func openCache(dir, rawURL string) (*git.Repository, error) {
	repo, err := git.PlainOpen(dir)
	if err != nil {
		return nil, err
	}
	remote, err := repo.Remote(git.DefaultRemoteName)
	if err != nil {
		return nil, err
	}
	if urls := remote.Config().URLs; len(urls) != 1 || urls[0] != rawURL {
		return nil, errors.New("cache holds another repository")
	}
	return repo, nil
}

func fetchInto(ctx context.Context, repo *git.Repository, opts FetchOptions, am transport.AuthMethod) (*Checkout, error) {
	remoteRef := plumbing.NewRemoteReferenceName(git.DefaultRemoteName, opts.Branch)
	spec := config.RefSpec(fmt.Sprintf("+%s:%s", plumbing.NewBranchReferenceName(opts.Branch), remoteRef))
	fo := &git.FetchOptions{
		RemoteName: git.DefaultRemoteName,
		RefSpecs:   []config.RefSpec{spec},
		Depth:      opts.Depth,
		Tags:       git.NoTags,
		Force:      true,
		Auth:       am,
	}
	if err := repo.FetchContext(ctx, fo); err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil, err
	}
	ref, err := repo.Reference(remoteRef, true)
	if err != nil {
		return nil, err
	}
	wt, err := repo.Worktree()
	if err != nil {
		return nil, err
	}
	// Point the local branch at the fetched commit, then make the work tree match it.
	local := plumbing.NewBranchReferenceName(opts.Branch)
	if err := repo.Storer.SetReference(plumbing.NewHashReference(local, ref.Hash())); err != nil {
		return nil, err
	}
	if err := repo.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, local)); err != nil {
		return nil, err
	}
	if err := wt.Reset(&git.ResetOptions{Commit: ref.Hash(), Mode: git.HardReset}); err != nil {
		return nil, err
	}
	if err := wt.Clean(&git.CleanOptions{Dir: true}); err != nil {
		return nil, err
	}
	sha := ref.Hash().String()
	return &Checkout{Dir: opts.Dir, Commit: sha, Revision: Revision(opts.Branch, sha)}, nil
}

// resetDir empties dir (creating it if needed) without removing dir itself, which may be
// a mount point.
func resetDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// LsRemote returns the commit SHA the remote branch points at, without fetching objects:
// a cheap check for a new commit. A missing branch returns an error wrapping
// ErrBranchNotFound.
func LsRemote(ctx context.Context, rawURL, branch string, auth *Auth) (string, error) {
	am, err := authMethod(rawURL, auth)
	if err != nil {
		return "", classify("ls-remote", rawURL, err)
	}
	remote := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: git.DefaultRemoteName, URLs: []string{rawURL}})
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: am})
	if err != nil {
		return "", classify("ls-remote", rawURL, err)
	}
	want := plumbing.NewBranchReferenceName(branch)
	for _, r := range refs {
		if r.Name() == want && r.Type() == plumbing.HashReference {
			return r.Hash().String(), nil
		}
	}
	return "", classify("ls-remote", rawURL, fmt.Errorf("branch %q: %w", branch, ErrBranchNotFound))
}
