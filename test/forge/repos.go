package forge

import (
	"net/http"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// Status is a commit status the server holds.
type Status struct {
	ID                                    int64
	SHA, Context, State, Description, URL string
	TargetURL                             string
	CreatedAt                             time.Time
}

// MaxStatusesPerContext is GitHub's limit of statuses per sha and context.
const MaxStatusesPerContext = 1000

// MaxDescription is the longest status description GitHub accepts.
const MaxDescription = 140

// MaxContext is the longest status context GitHub accepts, in characters.
const MaxContext = 255

type repo struct {
	name     string
	branches map[string]string
	gitDir   string
	statuses map[string][]Status // by sha, oldest first
	pulls    map[int]*PullRequest
	comments map[int][]Comment
	labels   map[string]int64 // repository labels by name
	number   int              // last issue/pull request number
}

// AddRepo registers repository owner/name with branch heads (branch → sha; may be nil).
// Registering it again replaces its branches and keeps the rest.
func (s *Server) AddRepo(name string, branches map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repos[name]
	if rp == nil {
		rp = &repo{name: name, statuses: map[string][]Status{}, pulls: map[int]*PullRequest{},
			comments: map[int][]Comment{}, labels: map[string]int64{}}
		s.repos[name] = rp
	}
	rp.branches = map[string]string{}
	for b, sha := range branches {
		rp.branches[b] = sha
	}
}

// SetBranch creates or moves a branch of a registered repository (no webhook; see Push).
func (s *Server) SetBranch(name, branch, sha string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rp := s.repos[name]; rp != nil {
		rp.branches[branch] = sha
	}
}

// DeleteBranch removes a branch of a registered repository.
func (s *Server) DeleteBranch(name, branch string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rp := s.repos[name]; rp != nil {
		delete(rp.branches, branch)
	}
}

// UseGitDir makes the repository's branches and commits those of the git repository at
// dir (bare or not), read at each request; AddRepo must have registered the repository.
func (s *Server) UseGitDir(name, dir string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rp := s.repos[name]; rp != nil {
		rp.gitDir = dir
	}
}

// branchHead returns a branch's head sha.
func (rp *repo) branchHead(branch string) (string, bool) {
	if rp.gitDir == "" {
		sha, ok := rp.branches[branch]
		return sha, ok
	}
	r, err := git.PlainOpen(rp.gitDir)
	if err != nil {
		return "", false
	}
	ref, err := r.Reference(plumbing.NewBranchReferenceName(branch), true)
	if err != nil {
		return "", false
	}
	return ref.Hash().String(), true
}

// commitExists checks a sha against the git directory, when there is one.
func (rp *repo) commitExists(sha string) bool {
	if !sha1Re.MatchString(sha) {
		return false
	}
	if rp.gitDir == "" {
		return true
	}
	r, err := git.PlainOpen(rp.gitDir)
	if err != nil {
		return false
	}
	_, err = r.CommitObject(plumbing.NewHash(sha))
	return err == nil
}

// resolve turns a ref (sha or branch) into a sha.
func (rp *repo) resolve(ref string) (string, bool) {
	if sha1Re.MatchString(ref) {
		return ref, rp.commitExists(ref)
	}
	return rp.branchHead(strings.TrimPrefix(ref, "heads/"))
}

func (s *Server) repoJSON(rp *repo) map[string]any {
	owner, name, _ := strings.Cut(rp.name, "/")
	return map[string]any{
		"id": 1, "name": name, "full_name": rp.name, "owner": map[string]any{"login": owner},
		"html_url": s.HTMLURL() + rp.name, "default_branch": "main", "private": true,
	}
}

// Statuses returns every status posted on sha of repository name, oldest first.
func (s *Server) Statuses(name, sha string) []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rp := s.repos[name]; rp != nil {
		return append([]Status(nil), rp.statuses[sha]...)
	}
	return nil
}

// LatestStatus returns the newest status of context on sha.
func (s *Server) LatestStatus(name, sha, context string) (Status, bool) {
	st := s.Statuses(name, sha)
	for i := len(st) - 1; i >= 0; i-- {
		if st[i].Context == context {
			return st[i], true
		}
	}
	return Status{}, false
}

var validStates = map[string]bool{"pending": true, "success": true, "failure": true, "error": true}

func (s *Server) createStatus(rp *repo, sha string, r *http.Request) (*response, *apiError, []event) {
	var in struct {
		State       *string `json:"state"`
		TargetURL   *string `json:"target_url"`
		Description *string `json:"description"`
		Context     *string `json:"context"`
	}
	if e := decode(r, &in); e != nil {
		return nil, e, nil
	}
	if in.State == nil {
		return nil, errValidation("Status", "state", "missing_field", ""), nil
	}
	if !validStates[*in.State] {
		return nil, errValidation("Status", "state", "custom", "state is not included in the list"), nil
	}
	if !rp.commitExists(sha) {
		return nil, errValidation("Status", "sha", "custom", "No commit found for SHA: "+sha), nil
	}
	st := Status{ID: s.id(), SHA: sha, State: *in.State, Context: "default", CreatedAt: s.now().UTC()}
	if in.Context != nil && *in.Context != "" {
		if utf8.RuneCountInString(*in.Context) > MaxContext {
			return nil, errValidation("Status", "context", "custom", "context is too long (maximum is 255 characters)"), nil
		}
		st.Context = *in.Context
	}
	if in.Description != nil {
		if utf8.RuneCountInString(*in.Description) > MaxDescription {
			return nil, errValidation("Status", "description", "custom", "description is too long (maximum is 140 characters)"), nil
		}
		st.Description = *in.Description
	}
	if in.TargetURL != nil {
		if *in.TargetURL != "" && !strings.HasPrefix(*in.TargetURL, "http://") && !strings.HasPrefix(*in.TargetURL, "https://") {
			return nil, errValidation("Status", "target_url", "custom", "target_url must use http(s) scheme"), nil
		}
		st.TargetURL = *in.TargetURL
	}
	n := 0
	for _, old := range rp.statuses[sha] {
		if old.Context == st.Context {
			n++
		}
	}
	if n >= MaxStatusesPerContext {
		return nil, errValidation("Status", "", "custom", "This SHA and context has reached the maximum number of statuses."), nil
	}
	st.URL = s.URL() + "repos/" + rp.name + "/statuses/" + sha
	rp.statuses[sha] = append(rp.statuses[sha], st)
	ev := event{repo: rp.name, typ: "status", payload: map[string]any{
		"id": st.ID, "sha": sha, "name": rp.name, "context": st.Context, "state": st.State,
		"description": st.Description, "target_url": nullable(st.TargetURL),
		"repository": s.repoJSON(rp), "created_at": st.CreatedAt, "updated_at": st.CreatedAt,
	}}
	return &response{code: http.StatusCreated, body: statusJSON(st)}, nil, []event{ev}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func statusJSON(st Status) map[string]any {
	return map[string]any{
		"id": st.ID, "url": st.URL, "state": st.State, "description": nullable(st.Description),
		"target_url": nullable(st.TargetURL), "context": st.Context,
		"created_at": st.CreatedAt, "updated_at": st.CreatedAt,
		"creator": map[string]any{"login": "gitfleet-bot"},
	}
}

// latest returns the newest status of every context on sha, newest first.
func latest(all []Status) []Status {
	seen := map[string]bool{}
	var out []Status
	for i := len(all) - 1; i >= 0; i-- {
		if !seen[all[i].Context] {
			seen[all[i].Context] = true
			out = append(out, all[i])
		}
	}
	return out
}

// combinedState is GitHub's rule: failure if any error or failure, pending if any pending
// or none at all, success otherwise.
func combinedState(sts []Status) string {
	if len(sts) == 0 {
		return "pending"
	}
	state := "success"
	for _, st := range sts {
		switch st.State {
		case "error", "failure":
			return "failure"
		case "pending":
			state = "pending"
		}
	}
	return state
}

func (s *Server) combinedStatus(rp *repo, ref string, r *http.Request) (*response, *apiError, []event) {
	sha, ok := rp.resolve(ref)
	if !ok {
		return nil, errStatus(http.StatusNotFound, "No commit found for SHA: "+ref), nil
	}
	sts := latest(rp.statuses[sha])
	from, to, link := page(r, len(sts))
	list := make([]map[string]any, 0, to-from)
	for _, st := range sts[from:to] {
		list = append(list, statusJSON(st))
	}
	return &response{code: 200, header: link, body: map[string]any{
		"state": combinedState(sts), "sha": sha, "total_count": len(sts), "statuses": list,
		"repository": s.repoJSON(rp), "commit_url": s.URL() + "repos/" + rp.name + "/commits/" + sha,
	}}, nil, nil
}

func (s *Server) listStatuses(rp *repo, ref string, r *http.Request) (*response, *apiError, []event) {
	sha, ok := rp.resolve(ref)
	if !ok {
		return nil, errStatus(http.StatusNotFound, "No commit found for SHA: "+ref), nil
	}
	all := append([]Status(nil), rp.statuses[sha]...)
	sort.SliceStable(all, func(i, j int) bool { return all[i].ID > all[j].ID })
	from, to, link := page(r, len(all))
	list := make([]map[string]any, 0, to-from)
	for _, st := range all[from:to] {
		list = append(list, statusJSON(st))
	}
	return &response{code: 200, header: link, body: list}, nil, nil
}
