package gitserver

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/memfs"
	"github.com/go-git/go-billy/v5/util"
	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"
)

// ErrBranchNotFound is wrapped by the errors of ReadBranch, Head and Push (for a
// missing Commit.From) when the branch does not exist.
var ErrBranchNotFound = errors.New("branch not found")

// Commit describes one commit for Push.
type Commit struct {
	// Branch receives the commit. It is created when missing.
	Branch string
	// From is the branch a missing Branch starts from. When empty, a missing Branch
	// starts with no parent and an empty tree.
	From string
	// Files are written (created or replaced): slash-separated path → content.
	Files map[string]string
	// Delete lists files or folders removed before Files are written.
	Delete []string
	// ReplaceAll removes every file first, so that the commit holds exactly Files.
	ReplaceAll bool
	// Message is the commit message; default "test commit".
	Message string
	// AuthorName and AuthorEmail default to "gitfleet test" <test@gitfleet.invalid>.
	AuthorName, AuthorEmail string
	// AllowEmpty makes a commit even when the tree does not change. Otherwise, Push
	// makes no commit and returns the branch's current head.
	AllowEmpty bool
}

// Push clones branch c.Branch of the repository at url into memory, applies c, commits
// and pushes, and returns the new commit's hash. It works with any git server (auth may
// be nil). A push that lost a race with another one fails (it never forces).
func Push(ctx context.Context, url string, auth transport.AuthMethod, c Commit) (string, error) {
	if c.Branch == "" {
		return "", errors.New("gitserver.Push: Commit.Branch is empty")
	}
	branches, err := Branches(ctx, url, auth)
	if err != nil {
		return "", err
	}
	branchRef := plumbing.NewBranchReferenceName(c.Branch)
	wtfs := memfs.New()
	var repo *gogit.Repository
	switch _, exists := branches[c.Branch]; {
	case exists:
		repo, err = cloneBranch(ctx, url, auth, c.Branch, wtfs)
	case c.From != "":
		if _, ok := branches[c.From]; !ok {
			return "", fmt.Errorf("push to %s: base branch %q: %w", url, c.From, ErrBranchNotFound)
		}
		repo, err = cloneBranch(ctx, url, auth, c.From, wtfs)
		if err == nil {
			err = checkoutNew(repo, branchRef)
		}
	default:
		repo, err = initOrphan(url, wtfs, branchRef)
	}
	if err != nil {
		return "", fmt.Errorf("preparing a commit for %s of %s: %w", c.Branch, url, err)
	}

	if err := applyChanges(wtfs, c); err != nil {
		return "", err
	}
	hash, changed, err := commitAll(repo, c)
	if err != nil {
		return "", fmt.Errorf("committing to %s of %s: %w", c.Branch, url, err)
	}
	if !changed {
		return hash, nil
	}
	refspec := config.RefSpec(fmt.Sprintf("%s:%s", branchRef, branchRef))
	err = repo.PushContext(ctx, &gogit.PushOptions{
		RemoteName: gogit.DefaultRemoteName,
		RefSpecs:   []config.RefSpec{refspec},
		Auth:       auth,
	})
	if err != nil {
		return "", fmt.Errorf("pushing %s to %s: %w", c.Branch, url, err)
	}
	return hash, nil
}

// ReadBranch returns the files of branch in the repository at url: slash-separated path
// → content. A missing branch is an error wrapping ErrBranchNotFound.
func ReadBranch(ctx context.Context, url string, auth transport.AuthMethod, branch string) (map[string]string, error) {
	files, _, err := ReadBranchAt(ctx, url, auth, branch)
	return files, err
}

// ReadBranchAt is ReadBranch that also returns the hash of the commit it read.
func ReadBranchAt(ctx context.Context, url string, auth transport.AuthMethod, branch string) (map[string]string, string, error) {
	if _, err := Head(ctx, url, auth, branch); err != nil {
		return nil, "", err
	}
	repo, err := gogit.CloneContext(ctx, memory.NewStorage(), nil, &gogit.CloneOptions{
		URL:           url,
		Auth:          auth,
		ReferenceName: plumbing.NewBranchReferenceName(branch),
		SingleBranch:  true,
		NoCheckout:    true,
		Tags:          gogit.NoTags,
	})
	if err != nil {
		return nil, "", fmt.Errorf("cloning %s of %s: %w", branch, url, err)
	}
	head, err := repo.Head()
	if err != nil {
		return nil, "", err
	}
	commit, err := repo.CommitObject(head.Hash())
	if err != nil {
		return nil, "", err
	}
	tree, err := commit.Tree()
	if err != nil {
		return nil, "", err
	}
	files := map[string]string{}
	err = tree.Files().ForEach(func(f *object.File) error {
		content, err := f.Contents()
		files[f.Name] = content
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("reading %s of %s: %w", branch, url, err)
	}
	return files, head.Hash().String(), nil
}

// Branches lists the branches of the repository at url with their commit hashes. An
// empty repository has none.
func Branches(ctx context.Context, url string, auth transport.AuthMethod) (map[string]string, error) {
	remote := gogit.NewRemote(memory.NewStorage(), &config.RemoteConfig{
		Name: gogit.DefaultRemoteName,
		URLs: []string{url},
	})
	refs, err := remote.ListContext(ctx, &gogit.ListOptions{Auth: auth})
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing the refs of %s: %w", url, err)
	}
	branches := map[string]string{}
	for _, r := range refs {
		if r.Name().IsBranch() && r.Type() == plumbing.HashReference {
			branches[r.Name().Short()] = r.Hash().String()
		}
	}
	return branches, nil
}

// Head returns the commit hash of branch in the repository at url, or an error wrapping
// ErrBranchNotFound.
func Head(ctx context.Context, url string, auth transport.AuthMethod, branch string) (string, error) {
	branches, err := Branches(ctx, url, auth)
	if err != nil {
		return "", err
	}
	h, ok := branches[branch]
	if !ok {
		names := make([]string, 0, len(branches))
		for b := range branches {
			names = append(names, b)
		}
		sort.Strings(names)
		return "", fmt.Errorf("%s of %s (branches: %v): %w", branch, url, names, ErrBranchNotFound)
	}
	return h, nil
}

func cloneBranch(ctx context.Context, url string, auth transport.AuthMethod, branch string, wtfs billy.Filesystem) (*gogit.Repository, error) {
	return gogit.CloneContext(ctx, memory.NewStorage(), wtfs, &gogit.CloneOptions{
		URL:           url,
		Auth:          auth,
		ReferenceName: plumbing.NewBranchReferenceName(branch),
		SingleBranch:  true,
		Tags:          gogit.NoTags,
	})
}

func checkoutNew(repo *gogit.Repository, branch plumbing.ReferenceName) error {
	wt, err := repo.Worktree()
	if err != nil {
		return err
	}
	return wt.Checkout(&gogit.CheckoutOptions{Branch: branch, Create: true})
}

// initOrphan makes an empty in-memory repository whose HEAD is branch, with url as
// its origin.
func initOrphan(url string, wtfs billy.Filesystem, branch plumbing.ReferenceName) (*gogit.Repository, error) {
	repo, err := gogit.Init(memory.NewStorage(), wtfs)
	if err != nil {
		return nil, err
	}
	if err := repo.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, branch)); err != nil {
		return nil, err
	}
	_, err = repo.CreateRemote(&config.RemoteConfig{Name: gogit.DefaultRemoteName, URLs: []string{url}})
	return repo, err
}

// applyChanges edits the work tree as c says.
func applyChanges(wtfs billy.Filesystem, c Commit) error {
	if c.ReplaceAll {
		entries, err := wtfs.ReadDir("/")
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := util.RemoveAll(wtfs, e.Name()); err != nil {
				return err
			}
		}
	}
	for _, p := range c.Delete {
		if err := util.RemoveAll(wtfs, cleanPath(p)); err != nil {
			return fmt.Errorf("deleting %s: %w", p, err)
		}
	}
	for p, content := range c.Files {
		p = cleanPath(p)
		if p == "" {
			return errors.New("empty file path in Commit.Files")
		}
		if err := wtfs.MkdirAll(path.Dir(p), 0o755); err != nil {
			return err
		}
		if err := util.WriteFile(wtfs, p, []byte(content), 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", p, err)
		}
	}
	return nil
}

// commitAll stages every change of the work tree (additions, changes, deletions) and
// commits. It reports whether a commit was made; if not, hash is the current head.
func commitAll(repo *gogit.Repository, c Commit) (hash string, changed bool, err error) {
	wt, err := repo.Worktree()
	if err != nil {
		return "", false, err
	}
	status, err := wt.Status()
	if err != nil {
		return "", false, err
	}
	for p, st := range status {
		if st.Worktree == gogit.Deleted {
			_, err = wt.Remove(p)
		} else if st.Worktree != gogit.Unmodified {
			_, err = wt.Add(p)
		}
		if err != nil {
			return "", false, fmt.Errorf("staging %s: %w", p, err)
		}
	}
	if !c.AllowEmpty {
		status, err := wt.Status()
		if err != nil {
			return "", false, err
		}
		if status.IsClean() {
			if head, err := repo.Head(); err == nil {
				return head.Hash().String(), false, nil
			}
			// An empty first commit on a new branch still needs AllowEmpty.
			return "", false, errors.New("nothing to commit on a new branch (set Commit.AllowEmpty)")
		}
	}
	msg := c.Message
	if msg == "" {
		msg = "test commit"
	}
	name, email := c.AuthorName, c.AuthorEmail
	if name == "" {
		name = "gitfleet test"
	}
	if email == "" {
		email = "test@gitfleet.invalid"
	}
	h, err := wt.Commit(msg, &gogit.CommitOptions{
		Author:            &object.Signature{Name: name, Email: email, When: time.Now()},
		AllowEmptyCommits: c.AllowEmpty,
	})
	if err != nil {
		return "", false, err
	}
	return h.String(), true, nil
}

func cleanPath(p string) string {
	return strings.TrimPrefix(path.Clean("/"+p), "/")
}

// initBare creates a bare repository in dir whose HEAD points at branch.
func initBare(dir, branch string) error {
	repo, err := gogit.PlainInit(dir, true)
	if err != nil {
		return err
	}
	return repo.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, plumbing.NewBranchReferenceName(branch)))
}
