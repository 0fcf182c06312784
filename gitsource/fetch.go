package gitsource

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/filesystem"
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
// first time, then an incremental fetch. The work tree (Dir without .git) is then made to
// hold exactly the branch head: changed files are rewritten, files and folders that are not
// in the commit (stale or untracked) are removed, and unchanged files are recognised by
// size and modification time, as git's index does, so an unchanged fetch of a 10,000-file
// branch does no writes. Errors wrap ErrAuthentication, ErrBranchNotFound or
// ErrUnreachable when they are one of those, and never contain credentials. Fetch calls
// on the same Dir are serialised within the process.
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

	if st, repo := openCache(opts.Dir, opts.URL); repo != nil {
		co, ferr := fetchInto(ctx, st, repo, opts, am)
		st.Close()
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
	st := newStorage(opts.Dir)
	defer st.Close()
	repo, err := git.CloneContext(ctx, st, nil, &git.CloneOptions{
		URL:           opts.URL,
		Auth:          am,
		RemoteName:    git.DefaultRemoteName,
		ReferenceName: plumbing.NewBranchReferenceName(opts.Branch),
		SingleBranch:  true,
		Depth:         opts.Depth,
		Tags:          git.NoTags,
		NoCheckout:    true,
	})
	if err != nil {
		st.Close()
		_ = resetDir(opts.Dir)
		return nil, classify("fetch", opts.URL, err)
	}
	head, err := repo.Head()
	if err != nil {
		return nil, classify("fetch", opts.URL, err)
	}
	return checkout(st, opts, head.Hash())
}

func isFinal(ctx context.Context, err error) bool {
	return ctx.Err() != nil || isAuthError(err) || isBranchError(err) || isUnreachable(err)
}

// newStorage opens the object store in dir/.git, keeping pack files open between reads
// (10x faster tree walks); the caller closes it.
func newStorage(dir string) *filesystem.Storage {
	return filesystem.NewStorageWithOptions(osfs.New(filepath.Join(dir, ".git")), cache.NewObjectLRUDefault(),
		filesystem.Options{KeepDescriptors: true})
}

// openCache opens dir as a clone of rawURL; it returns a nil repository when dir holds
// something else.
func openCache(dir, rawURL string) (*filesystem.Storage, *git.Repository) {
	if _, err := os.Stat(filepath.Join(dir, ".git", "config")); err != nil {
		return nil, nil
	}
	st := newStorage(dir)
	repo, err := git.Open(st, nil)
	if err == nil {
		var remote *git.Remote
		if remote, err = repo.Remote(git.DefaultRemoteName); err == nil {
			if urls := remote.Config().URLs; len(urls) == 1 && urls[0] == rawURL {
				return st, repo
			}
		}
	}
	st.Close()
	return nil, nil
}

func fetchInto(ctx context.Context, st *filesystem.Storage, repo *git.Repository, opts FetchOptions, am transport.AuthMethod) (*Checkout, error) {
	remoteRef := plumbing.NewRemoteReferenceName(git.DefaultRemoteName, opts.Branch)
	spec := config.RefSpec(fmt.Sprintf("+%s:%s", plumbing.NewBranchReferenceName(opts.Branch), remoteRef))
	err := repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: git.DefaultRemoteName,
		RefSpecs:   []config.RefSpec{spec},
		Depth:      opts.Depth,
		Tags:       git.NoTags,
		Force:      true,
		Auth:       am,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil, err
	}
	ref, err := repo.Reference(remoteRef, true)
	if err != nil {
		return nil, err
	}
	return checkout(st, opts, ref.Hash())
}

// checkout points HEAD and the local branch at commit and makes the work tree match it.
func checkout(st *filesystem.Storage, opts FetchOptions, commit plumbing.Hash) (*Checkout, error) {
	local := plumbing.NewBranchReferenceName(opts.Branch)
	if err := st.SetReference(plumbing.NewHashReference(local, commit)); err != nil {
		return nil, err
	}
	if err := st.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, local)); err != nil {
		return nil, err
	}
	if err := materialize(st, opts.Dir, commit); err != nil {
		return nil, fmt.Errorf("fetch %s: %w", RedactURL(opts.URL), err)
	}
	sha := commit.String()
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
