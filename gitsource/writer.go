package gitsource

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"
)

// The commit trailers gitfleet writes on environment branch commits.
const (
	// TrailerSourceCommit names the dry commit (fleet config repo) a commit was rendered from.
	TrailerSourceCommit = "Gitfleet-Source-Commit"
	// TrailerStage names the stage of the environment branch.
	TrailerStage = "Gitfleet-Stage"
)

// Trailer is one "Key: Value" line at the end of a commit message.
type Trailer struct {
	Key, Value string
}

// StageTrailers returns the trailers of an environment branch commit.
func StageTrailers(sourceCommit, stage string) []Trailer {
	return []Trailer{{TrailerSourceCommit, sourceCommit}, {TrailerStage, stage}}
}

// Signature is a commit author or committer.
type Signature struct {
	Name, Email string
}

// DefaultSignature is the author and committer when a WriteRequest sets none.
var DefaultSignature = Signature{Name: "gitfleet", Email: "gitfleet@gitfleet.dev"}

// WriteRequest describes one commit to an environment branch.
//
// The writer owns Scope: a set of paths (a folder ends with "/", e.g. "clusters/"; a file
// does not, e.g. "gitfleet.json"). After the commit, the files under Scope are exactly the
// desired files; everything outside Scope is kept from the branch head untouched. An empty
// Scope is the whole tree.
//
// The desired files come from Files, or from Update when it is set. Update receives the
// files under Scope at the branch head the commit is being built on, and returns the
// desired files under Scope (it may modify and return the map it got). Update is called
// once per attempt, each time on a fresh base: when another writer pushed first, the
// commit is rebuilt on top of theirs by calling Update again, so read-modify-write
// changes (e.g. replacing one placement's subtree clusters/*/<placement>/) never lose
// another writer's update. Update must be deterministic and free of side effects.
type WriteRequest struct {
	// URL of the repository and Auth to reach it.
	URL  string
	Auth *Auth
	// Branch to write (e.g. env/dev).
	Branch string
	// BaseBranch, when Branch does not exist yet, is the branch it starts from; empty
	// starts Branch as an orphan (no parent).
	BaseBranch string
	// ResetToBase builds the commit on BaseBranch's head even when Branch exists, and
	// replaces Branch with it: for pull request branches (gitfleet/promote/<stage>) that
	// must be rebuilt on a moved base. The push is still guarded by Branch's expected old
	// value (a lease), so a concurrent update is never overwritten. Never set it for an
	// environment branch.
	ResetToBase bool
	// Scope is the set of paths the writer owns; empty means everything.
	Scope []string
	// Files is the desired content of Scope, path to bytes. Ignored when Update is set.
	Files map[string][]byte
	// Update computes the desired content of Scope from its current content.
	Update func(current map[string][]byte) (desired map[string][]byte, err error)
	// Message is the commit message (subject, blank line, body); Trailers follow it.
	Message  string
	Trailers []Trailer
	// Author and Committer default to DefaultSignature (Committer to Author).
	Author, Committer Signature
	// Time of the commit, for byte-identical commits; zero means now.
	Time time.Time
	// MaxAttempts bounds the rebuild-and-push attempts on a concurrent update; 0 means the
	// Writer's default (8).
	MaxAttempts int
}

// WriteResult says what Write did.
type WriteResult struct {
	// Commit is the branch head after the write: the new commit, or the existing head
	// when nothing changed.
	Commit string
	// Committed is true when a new commit was pushed.
	Committed bool
	// Created is true when the branch did not exist and was pushed.
	Created bool
	// Attempts is how many times the commit was built (1 without contention).
	Attempts int
	// Tree is the hash of the commit's root tree.
	Tree string
}

// Writer writes environment branches: it builds the tree objects directly in an in-memory
// object store (no work tree), reusing unchanged subtrees and blobs, commits when the tree
// changed, and pushes a single ref with the expected old value. It keeps one object cache
// per repository and branch between writes, so a write after the first only fetches what
// other writers added. A Writer is safe for concurrent use; writes to the same repository
// and branch are serialised.
type Writer struct {
	maxAttempts int
	backoff     time.Duration
	maxBackoff  time.Duration

	mu     sync.Mutex
	caches map[string]*branchCache
}

// WriterOption configures a Writer.
type WriterOption func(*Writer)

// WithRetry sets the default number of attempts and the first and largest delay between
// attempts when a push loses a race (defaults: 8, 100ms, 5s; the delay doubles, with jitter).
func WithRetry(maxAttempts int, backoff, maxBackoff time.Duration) WriterOption {
	return func(w *Writer) {
		if maxAttempts > 0 {
			w.maxAttempts = maxAttempts
		}
		if backoff > 0 {
			w.backoff = backoff
		}
		if maxBackoff > 0 {
			w.maxBackoff = maxBackoff
		}
	}
}

// NewWriter returns a Writer.
func NewWriter(opts ...WriterOption) *Writer {
	w := &Writer{maxAttempts: 8, backoff: 100 * time.Millisecond, maxBackoff: 5 * time.Second, caches: map[string]*branchCache{}}
	for _, o := range opts {
		o(w)
	}
	return w
}

// ErrConflict is wrapped by Write when every attempt lost the race against other writers.
var ErrConflict = errors.New("the branch kept moving: push rejected on every attempt")

// errStale marks an attempt that lost the race; the commit is rebuilt on the new head.
var errStale = errors.New("remote branch moved")

// Write builds and pushes one commit as described by req (see WriteRequest). It never
// force-pushes (ResetToBase replaces a branch only under a lease): when the branch moved
// since it was read, the commit is rebuilt on the new head and pushed again, with
// backoff, up to MaxAttempts times. Errors are classified like
// Fetch's (ErrAuthentication, ErrBranchNotFound for a missing BaseBranch, ErrUnreachable)
// and wrap ErrConflict when the attempts ran out.
func (w *Writer) Write(ctx context.Context, req WriteRequest) (*WriteResult, error) {
	if req.URL == "" || req.Branch == "" {
		return nil, errors.New("write: URL and Branch are required")
	}
	if req.Files == nil && req.Update == nil {
		return nil, errors.New("write: one of Files and Update is required")
	}
	if req.ResetToBase && req.BaseBranch == "" {
		return nil, errors.New("write: ResetToBase needs BaseBranch")
	}
	scope, err := normalizeScope(req.Scope)
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", req.Branch, err)
	}
	am, err := authMethod(req.URL, req.Auth)
	if err != nil {
		return nil, classify("write "+req.Branch+" to", req.URL, err)
	}
	attempts := req.MaxAttempts
	if attempts <= 0 {
		attempts = w.maxAttempts
	}
	c := w.cache(req.URL, req.Branch)
	c.mu.Lock()
	defer c.mu.Unlock()

	delay := w.backoff
	for i := 1; ; i++ {
		res, err := c.attempt(ctx, req, scope, am)
		if err == nil {
			res.Attempts = i
			c.compact(res.Commit)
			return res, nil
		}
		if !errors.Is(err, errStale) {
			return nil, err
		}
		if i >= attempts {
			return nil, fmt.Errorf("write %s to %s: %d attempts: %w", req.Branch, RedactURL(req.URL), i, ErrConflict)
		}
		d := delay/2 + rand.N(delay/2+1)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("write %s to %s: %w", req.Branch, RedactURL(req.URL), ctx.Err())
		case <-time.After(d):
		}
		delay = min(delay*2, w.maxBackoff)
	}
}

// ReadTree returns the files of branch below prefix ("" for all, a folder, or one file),
// keyed by their full path in the repository, using the Writer's cache for the branch.
func (w *Writer) ReadTree(ctx context.Context, url, branch string, auth *Auth, prefix string) (map[string][]byte, error) {
	am, err := authMethod(url, auth)
	if err != nil {
		return nil, classify("read "+branch+" of", url, err)
	}
	c := w.cache(url, branch)
	c.mu.Lock()
	defer c.mu.Unlock()
	head, err := c.head(ctx, url, branch, am)
	if err != nil {
		return nil, err
	}
	if head.IsZero() {
		return nil, classify("read "+branch+" of", url, fmt.Errorf("branch %q: %w", branch, ErrBranchNotFound))
	}
	commit, err := object.GetCommit(c.st, head)
	if err != nil {
		return nil, err
	}
	return readFiles(c.st, commit.TreeHash, prefix)
}

// ReadTree returns the files of branch below prefix ("" for all, a folder, or one file),
// keyed by their full path in the repository. It fetches the branch head (depth 1) into
// memory; use Writer.ReadTree to reuse a cache across calls.
func ReadTree(ctx context.Context, url, branch string, auth *Auth, prefix string) (map[string][]byte, error) {
	return NewWriter().ReadTree(ctx, url, branch, auth, prefix)
}

func (w *Writer) cache(url, branch string) *branchCache {
	w.mu.Lock()
	defer w.mu.Unlock()
	key := url + "\x00" + branch
	c := w.caches[key]
	if c == nil {
		c = newBranchCache(url)
		w.caches[key] = c
	}
	return c
}

// branchCache is the in-memory object store of one repository and branch.
type branchCache struct {
	mu        sync.Mutex
	url       string
	st        *memory.Storage
	remote    *git.Remote
	compactAt int
}

func newBranchCache(url string) *branchCache {
	c := &branchCache{url: url}
	c.reset(memory.NewStorage())
	return c
}

func (c *branchCache) reset(st *memory.Storage) {
	c.st = st
	c.remote = git.NewRemote(st, &config.RemoteConfig{
		Name:  git.DefaultRemoteName,
		URLs:  []string{c.url},
		Fetch: []config.RefSpec{"+refs/heads/*:refs/remotes/origin/*"},
	})
}

// remoteHeads lists the remote's branch heads.
func (c *branchCache) remoteHeads(ctx context.Context, am transport.AuthMethod) (map[string]plumbing.Hash, error) {
	refs, err := c.remote.ListContext(ctx, &git.ListOptions{Auth: am})
	if err != nil {
		if errors.Is(err, transport.ErrEmptyRemoteRepository) {
			return map[string]plumbing.Hash{}, nil
		}
		return nil, err
	}
	out := make(map[string]plumbing.Hash, len(refs))
	for _, r := range refs {
		if r.Type() == plumbing.HashReference && r.Name().IsBranch() {
			out[r.Name().Short()] = r.Hash()
		}
	}
	return out, nil
}

// ensure makes sure commit sha of branch is in the store, fetching it (depth 1) if not.
func (c *branchCache) ensure(ctx context.Context, branch string, sha plumbing.Hash, am transport.AuthMethod) error {
	if _, err := c.st.EncodedObject(plumbing.CommitObject, sha); err == nil {
		return nil
	}
	spec := config.RefSpec(fmt.Sprintf("+refs/heads/%s:refs/remotes/origin/%s", branch, branch))
	err := c.remote.FetchContext(ctx, &git.FetchOptions{
		RemoteName: git.DefaultRemoteName,
		RefSpecs:   []config.RefSpec{spec},
		Depth:      1,
		Auth:       am,
		Tags:       git.NoTags,
		Force:      true,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return err
	}
	if _, err := c.st.EncodedObject(plumbing.CommitObject, sha); err != nil {
		// The branch moved between listing and fetching.
		return errStale
	}
	return nil
}

// head returns the remote head of branch (ZeroHash when missing) with its objects fetched.
func (c *branchCache) head(ctx context.Context, url, branch string, am transport.AuthMethod) (plumbing.Hash, error) {
	for i := 0; i < 3; i++ {
		heads, err := c.remoteHeads(ctx, am)
		if err != nil {
			return plumbing.ZeroHash, classify("read "+branch+" of", url, err)
		}
		h, ok := heads[branch]
		if !ok {
			return plumbing.ZeroHash, nil
		}
		if err := c.ensure(ctx, branch, h, am); err != nil {
			if errors.Is(err, errStale) {
				continue
			}
			return plumbing.ZeroHash, classify("fetch "+branch+" of", url, err)
		}
		return h, nil
	}
	return plumbing.ZeroHash, classify("fetch "+branch+" of", url, fmt.Errorf("branch %q: %w", branch, ErrConflict))
}

// attempt reads the branch head, builds the commit on it and pushes it. It returns an error
// wrapping errStale when the branch moved meanwhile.
func (c *branchCache) attempt(ctx context.Context, req WriteRequest, scope []string, am transport.AuthMethod) (*WriteResult, error) {
	op := "write " + req.Branch + " to"
	heads, err := c.remoteHeads(ctx, am)
	if err != nil {
		return nil, classify(op, req.URL, err)
	}
	var parent, current plumbing.Hash
	var parentBranch string
	cur, exists := heads[req.Branch]
	if exists {
		current = cur
	}
	if exists && !req.ResetToBase {
		parent, parentBranch = cur, req.Branch
	} else if req.BaseBranch != "" {
		h, ok := heads[req.BaseBranch]
		if !ok {
			return nil, classify(op, req.URL, fmt.Errorf("base branch %q: %w", req.BaseBranch, ErrBranchNotFound))
		}
		parent, parentBranch = h, req.BaseBranch
	}
	baseTree := plumbing.ZeroHash
	if !parent.IsZero() {
		if err := c.ensure(ctx, parentBranch, parent, am); err != nil {
			if errors.Is(err, errStale) {
				return nil, err
			}
			return nil, classify(op, req.URL, err)
		}
		pc, err := object.GetCommit(c.st, parent)
		if err != nil {
			return nil, fmt.Errorf("%s %s: read %s: %w", op, RedactURL(req.URL), parent, err)
		}
		baseTree = pc.TreeHash
	}

	desired := req.Files
	if req.Update != nil {
		current, err := scopeFiles(c.st, baseTree, scope)
		if err != nil {
			return nil, fmt.Errorf("%s %s: read current files: %w", op, RedactURL(req.URL), err)
		}
		if desired, err = req.Update(current); err != nil {
			return nil, fmt.Errorf("%s %s: update: %w", op, RedactURL(req.URL), err)
		}
	}
	tree, err := buildTree(c.st, baseTree, scope, desired)
	if err != nil {
		return nil, fmt.Errorf("%s %s: build tree: %w", op, RedactURL(req.URL), err)
	}

	res := &WriteResult{Tree: tree.String(), Created: !exists}
	if exists && req.ResetToBase && c.sameCommitOn(ctx, req.Branch, current, parent, tree, am) {
		res.Commit = current.String()
		return res, nil // the branch already holds this tree on this base
	}
	newHead := parent
	if tree != baseTree || parent.IsZero() {
		if newHead, err = c.commit(req, tree, parent); err != nil {
			return nil, fmt.Errorf("%s %s: commit: %w", op, RedactURL(req.URL), err)
		}
		res.Committed = true
	}
	res.Commit = newHead.String()
	if exists && newHead == current {
		res.Committed = false
		return res, nil // nothing changed
	}
	// The push replaces current (ZeroHash: the branch must not exist); with ResetToBase
	// the new head need not descend from it.
	replace := exists && req.ResetToBase
	if err := c.push(ctx, req.Branch, current, newHead, replace, am); err != nil {
		if errors.Is(err, errStale) {
			return nil, err
		}
		return nil, classify(op, req.URL, err)
	}
	return res, nil
}

// sameCommitOn reports whether commit (the head of branch) is base itself with tree, or a
// commit with tree whose only parent is base.
func (c *branchCache) sameCommitOn(ctx context.Context, branch string, commit, base, tree plumbing.Hash, am transport.AuthMethod) bool {
	if c.ensure(ctx, branch, commit, am) != nil {
		return false
	}
	co, err := object.GetCommit(c.st, commit)
	if err != nil || co.TreeHash != tree {
		return false
	}
	return commit == base || (len(co.ParentHashes) == 1 && co.ParentHashes[0] == base)
}

func (c *branchCache) commit(req WriteRequest, tree, parent plumbing.Hash) (plumbing.Hash, error) {
	when := req.Time
	if when.IsZero() {
		when = time.Now()
	}
	author := req.Author
	if author.Name == "" && author.Email == "" {
		author = DefaultSignature
	}
	committer := req.Committer
	if committer.Name == "" && committer.Email == "" {
		committer = author
	}
	co := &object.Commit{
		Author:    object.Signature{Name: author.Name, Email: author.Email, When: when},
		Committer: object.Signature{Name: committer.Name, Email: committer.Email, When: when},
		Message:   FormatMessage(req.Message, req.Trailers),
		TreeHash:  tree,
	}
	if !parent.IsZero() {
		co.ParentHashes = []plumbing.Hash{parent}
	}
	obj := c.st.NewEncodedObject()
	if err := co.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return c.st.SetEncodedObject(obj)
}

// FormatMessage returns message followed by a blank line and the trailers, one per line,
// ending with a newline.
func FormatMessage(message string, trailers []Trailer) string {
	var b strings.Builder
	b.WriteString(strings.TrimRight(message, "\n"))
	if len(trailers) > 0 {
		b.WriteString("\n\n")
		for _, t := range trailers {
			b.WriteString(t.Key + ": " + t.Value + "\n")
		}
		return b.String()
	}
	b.WriteString("\n")
	return b.String()
}

// push updates refs/heads/branch from expected (ZeroHash: must not exist) to newHead; only
// with replace may newHead not descend from expected. The receiving server checks the old
// value under its ref lock, so a concurrent update makes it fail; that failure, and a
// branch that moved since it was listed, return errStale.
func (c *branchCache) push(ctx context.Context, branch string, expected, newHead plumbing.Hash, replace bool, am transport.AuthMethod) error {
	ref := plumbing.NewBranchReferenceName(branch)
	spec := newHead.String() + ":" + ref.String()
	if replace {
		spec = "+" + spec // still guarded by the expected old value below and on the server
	}
	po := &git.PushOptions{
		RemoteName: git.DefaultRemoteName,
		RefSpecs:   []config.RefSpec{config.RefSpec(spec)},
		Auth:       am,
	}
	if !expected.IsZero() {
		po.RequireRemoteRefs = []config.RefSpec{config.RefSpec(expected.String() + ":" + ref.String())}
	}
	err := c.remote.PushContext(ctx, po)
	if err == nil || errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	// Find out what happened: our commit landed (the error came after the update), the
	// branch moved (lost the race: rebuild), or a real failure.
	heads, lerr := c.remoteHeads(ctx, am)
	if lerr != nil {
		return err
	}
	switch h, ok := heads[branch]; {
	case ok && h == newHead:
		return nil
	case ok && h != expected, !ok && !expected.IsZero():
		return fmt.Errorf("%w: %w", errStale, err)
	}
	return err
}

// compact drops the objects that are not reachable from head once the store has grown to
// twice its size after the last compaction, so a long-lived Writer holds about one tree.
func (c *branchCache) compact(head string) {
	n := len(c.st.Objects)
	if n < 2*c.compactAt+1024 {
		return
	}
	h := plumbing.NewHash(head)
	fresh := memory.NewStorage()
	if err := copyReachable(c.st, fresh, h); err != nil {
		return // keep the larger store; nothing is lost
	}
	_ = fresh.SetShallow([]plumbing.Hash{h})
	// Keep the remote-tracking refs whose commits survived: they are the haves of the
	// next fetch.
	if refs, err := c.st.IterReferences(); err == nil {
		_ = refs.ForEach(func(r *plumbing.Reference) error {
			if r.Type() == plumbing.HashReference && fresh.HasEncodedObject(r.Hash()) == nil {
				_ = fresh.SetReference(r)
			}
			return nil
		})
	}
	c.reset(fresh)
	c.compactAt = len(fresh.Objects)
}

func copyReachable(from, to *memory.Storage, head plumbing.Hash) error {
	commit, err := object.GetCommit(from, head)
	if err != nil {
		return err
	}
	var copyObj func(h plumbing.Hash) error
	copyObj = func(h plumbing.Hash) error {
		if to.HasEncodedObject(h) == nil {
			return nil
		}
		obj, err := from.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return err
		}
		if _, err := to.SetEncodedObject(obj); err != nil {
			return err
		}
		if obj.Type() != plumbing.TreeObject {
			return nil
		}
		t, err := object.DecodeTree(from, obj)
		if err != nil {
			return err
		}
		for _, e := range t.Entries {
			if e.Mode.IsFile() || e.Mode == filemode.Dir {
				if err := copyObj(e.Hash); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := copyObj(commit.TreeHash); err != nil {
		return err
	}
	obj, err := from.EncodedObject(plumbing.CommitObject, head)
	if err != nil {
		return err
	}
	_, err = to.SetEncodedObject(obj)
	return err
}
