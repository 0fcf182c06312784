package gitsource

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/memory"
)

// DefaultHistoryDepth is how many commits of a branch LoadHistory fetches by default.
const DefaultHistoryDepth = 200

// HistoryCommit is one commit of a branch's history.
type HistoryCommit struct {
	// SHA of the commit.
	SHA string
	// Subject is the first line of its message.
	Subject string
	// When it was committed.
	When time.Time
	// Mainline is true for the commits the branch itself pointed at: its head and the
	// first parents below it (not the commits merged into it from pull request branches).
	Mainline bool
}

// BranchHistory is the recent history of one branch, fetched into memory: its commits
// and their trees, to find an earlier state and read it.
type BranchHistory struct {
	// Branch and Head (its sha when loaded).
	Branch, Head string
	// Commits are the mainline first, newest to oldest, then the other commits reachable
	// within the depth (merged from other branches), newest first.
	Commits []HistoryCommit
	// Truncated is true when the history goes on beyond the depth fetched.
	Truncated bool

	st *memory.Storage
}

// LoadHistory fetches the last depth commits of branch (0 means DefaultHistoryDepth). It
// wraps ErrBranchNotFound when the branch does not exist; errors are classified like
// Fetch's.
func LoadHistory(ctx context.Context, url, branch string, auth *Auth, depth int) (*BranchHistory, error) {
	op := "read the history of " + branch + " of"
	if depth <= 0 {
		depth = DefaultHistoryDepth
	}
	am, err := authMethod(url, auth)
	if err != nil {
		return nil, classify(op, url, err)
	}
	st := memory.NewStorage()
	remote := git.NewRemote(st, &config.RemoteConfig{Name: git.DefaultRemoteName, URLs: []string{url}})
	ref := plumbing.NewRemoteReferenceName(git.DefaultRemoteName, branch)
	headHash, err := fetchRef(ctx, remote, st, plumbing.NewBranchReferenceName(branch).String(), ref, depth, am)
	if err != nil {
		if isBranchError(err) {
			return nil, classify(op, url, fmt.Errorf("branch %q: %w", branch, ErrBranchNotFound))
		}
		return nil, classify(op, url, err)
	}
	h := &BranchHistory{Branch: branch, Head: headHash.String(), st: st}
	seen := map[plumbing.Hash]bool{}
	var others []*object.Commit
	// The mainline: head and its first parents.
	next := headHash
	for !next.IsZero() {
		c, err := object.GetCommit(st, next)
		if err != nil {
			h.Truncated = true // the shallow boundary
			break
		}
		seen[c.Hash] = true
		h.Commits = append(h.Commits, historyCommit(c, true))
		next = plumbing.ZeroHash
		if len(c.ParentHashes) > 0 {
			next = c.ParentHashes[0]
		}
	}
	// What was merged into it.
	var walk func(hash plumbing.Hash)
	walk = func(hash plumbing.Hash) {
		for !hash.IsZero() && !seen[hash] {
			seen[hash] = true
			c, err := object.GetCommit(st, hash)
			if err != nil {
				return
			}
			others = append(others, c)
			for _, p := range c.ParentHashes[min(1, len(c.ParentHashes)):] {
				walk(p)
			}
			hash = plumbing.ZeroHash
			if len(c.ParentHashes) > 0 {
				hash = c.ParentHashes[0]
			}
		}
	}
	for _, mc := range h.Commits {
		c, _ := object.GetCommit(st, plumbing.NewHash(mc.SHA))
		for _, p := range c.ParentHashes[min(1, len(c.ParentHashes)):] {
			walk(p)
		}
	}
	sortCommitsNewestFirst(others)
	for _, c := range others {
		h.Commits = append(h.Commits, historyCommit(c, false))
	}
	return h, nil
}

func historyCommit(c *object.Commit, mainline bool) HistoryCommit {
	subject, _, _ := strings.Cut(c.Message, "\n")
	return HistoryCommit{SHA: c.Hash.String(), Subject: subject, When: c.Committer.When, Mainline: mainline}
}

func sortCommitsNewestFirst(cs []*object.Commit) {
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && cs[j].Committer.When.After(cs[j-1].Committer.When); j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
}

// Lookup returns the commits whose SHA starts with prefix (at least 4 characters).
func (h *BranchHistory) Lookup(prefix string) []HistoryCommit {
	if len(prefix) < 4 {
		return nil
	}
	prefix = strings.ToLower(prefix)
	var out []HistoryCommit
	for _, c := range h.Commits {
		if strings.HasPrefix(c.SHA, prefix) {
			out = append(out, c)
		}
	}
	return out
}

// Files returns the files of commit sha below prefix ("" for all, a folder, or one
// file), keyed by their full path.
func (h *BranchHistory) Files(sha, prefix string) (map[string][]byte, error) {
	c, err := object.GetCommit(h.st, plumbing.NewHash(sha))
	if err != nil {
		return nil, fmt.Errorf("commit %s of %s: %w", sha, h.Branch, err)
	}
	return readFiles(h.st, c.TreeHash, prefix)
}

// Tree returns the hash of the root tree of commit sha.
func (h *BranchHistory) Tree(sha string) (string, error) {
	c, err := object.GetCommit(h.st, plumbing.NewHash(sha))
	if err != nil {
		return "", fmt.Errorf("commit %s of %s: %w", sha, h.Branch, err)
	}
	return c.TreeHash.String(), nil
}

// Export writes the files of commit sha (one of Commits) into dir, which must be empty or
// missing, as Fetch's work tree: modes and symbolic links kept, a listing in dir/.git.
func (h *BranchHistory) Export(sha, dir string) error {
	if len(h.Lookup(sha)) == 0 || len(sha) != 40 {
		return fmt.Errorf("commit %s is not among the %d commits of %s read: %w", sha, len(h.Commits), h.Branch, ErrCommitNotFound)
	}
	return exportCommit(h.st, sha, dir)
}

// exportCommit writes the files of commit sha of s into dir, with a listing in dir/.git.
func exportCommit(s storer.EncodedObjectStorer, sha, dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, ".git"), 0o755); err != nil {
		return err
	}
	return materialize(s, dir, plumbing.NewHash(sha))
}
