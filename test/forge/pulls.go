package forge

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// PullRequest is a pull request the server holds.
type PullRequest struct {
	Number      int
	Title, Body string
	Head, Base  string
	// HeadSHA is the head branch's sha, kept current while the pull request is open and
	// frozen when it is closed.
	HeadSHA              string
	State                string // open or closed
	Merged               bool
	MergeCommitSHA       string
	MergeMessage         string
	Mergeable            *bool
	Labels               []string
	CreatedAt, UpdatedAt time.Time
	ClosedAt, MergedAt   *time.Time
}

// MaxBody is the longest pull request or comment body GitHub accepts, in characters.
const MaxBody = 65536

// bodyTooLong is GitHub's answer to a body over MaxBody characters.
func bodyTooLong(resource string, body *string) *apiError {
	if body == nil || utf8.RuneCountInString(*body) <= MaxBody {
		return nil
	}
	return errValidation(resource, "body", "custom", "body is too long (maximum is 65536 characters)")
}

// Comment is an issue comment on a pull request.
type Comment struct {
	ID        int64
	Body      string
	CreatedAt time.Time
}

// PullRequest returns pull request number of repository name.
func (s *Server) PullRequest(name string, number int) (PullRequest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repos[name]
	if rp == nil || rp.pulls[number] == nil {
		return PullRequest{}, false
	}
	return rp.view(rp.pulls[number]), true
}

// PullRequests returns every pull request of repository name by number.
func (s *Server) PullRequests(name string) []PullRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repos[name]
	if rp == nil {
		return nil
	}
	out := make([]PullRequest, 0, len(rp.pulls))
	for _, pr := range rp.pulls {
		out = append(out, rp.view(pr))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out
}

// Comments returns the comments on pull request number, oldest first.
func (s *Server) Comments(name string, number int) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rp := s.repos[name]; rp != nil {
		return append([]Comment(nil), rp.comments[number]...)
	}
	return nil
}

// SetMergeable sets what GitHub computed about a pull request's mergeability: nil (not
// computed yet), true, or false (conflicts: merging answers 405).
func (s *Server) SetMergeable(name string, number int, mergeable *bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rp := s.repos[name]; rp != nil && rp.pulls[number] != nil {
		rp.pulls[number].Mergeable = mergeable
	}
}

// view copies a pull request with its head sha brought up to date.
func (rp *repo) view(pr *PullRequest) PullRequest {
	out := *pr
	out.Labels = append([]string(nil), pr.Labels...)
	if pr.State == "open" {
		if sha, ok := rp.branchHead(pr.Head); ok {
			out.HeadSHA = sha
		}
	}
	return out
}

func (s *Server) pullJSON(rp *repo, pr PullRequest, full bool) map[string]any {
	owner, _, _ := strings.Cut(rp.name, "/")
	baseSHA, _ := rp.branchHead(pr.Base)
	labels := make([]map[string]any, 0, len(pr.Labels))
	for _, l := range pr.Labels {
		labels = append(labels, map[string]any{"id": rp.labels[l], "name": l, "color": "ededed", "default": false})
	}
	m := map[string]any{
		"id": int64(pr.Number) * 1000, "number": pr.Number, "state": pr.State,
		"title": pr.Title, "body": nullable(pr.Body),
		"url":      s.URL() + fmt.Sprintf("repos/%s/pulls/%d", rp.name, pr.Number),
		"html_url": s.HTMLURL() + fmt.Sprintf("%s/pull/%d", rp.name, pr.Number),
		"head": map[string]any{"ref": pr.Head, "sha": pr.HeadSHA, "label": owner + ":" + pr.Head,
			"repo": s.repoJSON(rp)},
		"base": map[string]any{"ref": pr.Base, "sha": baseSHA, "label": owner + ":" + pr.Base,
			"repo": s.repoJSON(rp)},
		"labels": labels, "user": map[string]any{"login": "gitfleet-bot"},
		"created_at": pr.CreatedAt, "updated_at": pr.UpdatedAt,
		"closed_at": pr.ClosedAt, "merged_at": pr.MergedAt,
		"merge_commit_sha": nullable(pr.MergeCommitSHA),
	}
	if full { // the list endpoint leaves these out, as GitHub does
		m["merged"] = pr.Merged
		m["mergeable"] = pr.Mergeable
		m["mergeable_state"] = "unknown"
		if pr.Mergeable != nil {
			m["mergeable_state"] = map[bool]string{true: "clean", false: "dirty"}[*pr.Mergeable]
		}
	}
	return m
}

func stripOwner(ref string) string {
	if _, b, ok := strings.Cut(ref, ":"); ok {
		return b
	}
	return ref
}

func (s *Server) createPull(rp *repo, r *http.Request) (*response, *apiError, []event) {
	var in struct {
		Title *string `json:"title"`
		Body  *string `json:"body"`
		Head  *string `json:"head"`
		Base  *string `json:"base"`
		Draft *bool   `json:"draft"`
		Issue *int    `json:"issue"`
	}
	if e := decode(r, &in); e != nil {
		return nil, e, nil
	}
	switch {
	case in.Title == nil || strings.TrimSpace(*in.Title) == "":
		return nil, errValidation("PullRequest", "title", "missing_field", ""), nil
	case in.Head == nil || *in.Head == "":
		return nil, errValidation("PullRequest", "head", "missing_field", ""), nil
	case in.Base == nil || *in.Base == "":
		return nil, errValidation("PullRequest", "base", "missing_field", ""), nil
	}
	if e := bodyTooLong("PullRequest", in.Body); e != nil {
		return nil, e, nil
	}
	head, base := stripOwner(*in.Head), *in.Base
	headSHA, ok := rp.branchHead(head)
	if !ok {
		return nil, errValidation("PullRequest", "head", "invalid", ""), nil
	}
	baseSHA, ok := rp.branchHead(base)
	if !ok {
		return nil, errValidation("PullRequest", "base", "invalid", ""), nil
	}
	if head == base || headSHA == baseSHA {
		return nil, errValidation("PullRequest", "", "custom", fmt.Sprintf("No commits between %s and %s", base, head)), nil
	}
	for _, pr := range rp.pulls {
		if pr.State == "open" && pr.Head == head && pr.Base == base {
			owner, _, _ := strings.Cut(rp.name, "/")
			return nil, errValidation("PullRequest", "", "custom", fmt.Sprintf("A pull request already exists for %s:%s.", owner, head)), nil
		}
	}
	rp.number++
	now := s.now().UTC()
	t := true
	pr := &PullRequest{Number: rp.number, Title: *in.Title, Head: head, Base: base, HeadSHA: headSHA,
		State: "open", Mergeable: &t, CreatedAt: now, UpdatedAt: now}
	if in.Body != nil {
		pr.Body = *in.Body
	}
	rp.pulls[pr.Number] = pr
	v := rp.view(pr)
	return &response{code: http.StatusCreated, body: s.pullJSON(rp, v, true)}, nil, []event{s.pullEvent(rp, "opened", v)}
}

func (s *Server) pullEvent(rp *repo, action string, pr PullRequest) event {
	return event{repo: rp.name, typ: "pull_request", payload: map[string]any{
		"action": action, "number": pr.Number, "pull_request": s.pullJSON(rp, pr, true),
		"repository": s.repoJSON(rp), "sender": map[string]any{"login": "gitfleet-bot"},
	}}
}

func (s *Server) getPull(rp *repo, n int) (*response, *apiError, []event) {
	pr := rp.pulls[n]
	if pr == nil {
		return nil, errNotFound(), nil
	}
	return &response{code: 200, body: s.pullJSON(rp, rp.view(pr), true)}, nil, nil
}

func (s *Server) listPulls(rp *repo, r *http.Request) (*response, *apiError, []event) {
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	if state != "open" && state != "closed" && state != "all" {
		return nil, errValidation("PullRequest", "state", "invalid", ""), nil
	}
	head := q.Get("head")
	if head != "" && !strings.Contains(head, ":") {
		// GitHub expects user:ref-name; a bare branch name matches nothing.
		head = "\x00"
	}
	head = stripOwner(head)
	base := q.Get("base")
	var all []PullRequest
	for _, pr := range rp.pulls {
		if (state == "all" || pr.State == state) && (head == "" || pr.Head == head) && (base == "" || pr.Base == base) {
			all = append(all, rp.view(pr))
		}
	}
	desc := q.Get("direction") != "asc"
	sort.Slice(all, func(i, j int) bool {
		if desc {
			return all[i].Number > all[j].Number
		}
		return all[i].Number < all[j].Number
	})
	from, to, link := page(r, len(all))
	list := make([]map[string]any, 0, to-from)
	for _, pr := range all[from:to] {
		list = append(list, s.pullJSON(rp, pr, false))
	}
	return &response{code: 200, header: link, body: list}, nil, nil
}

func (s *Server) updatePull(rp *repo, n int, r *http.Request) (*response, *apiError, []event) {
	pr := rp.pulls[n]
	if pr == nil {
		return nil, errNotFound(), nil
	}
	var in struct {
		Title *string `json:"title"`
		Body  *string `json:"body"`
		State *string `json:"state"`
		Base  *string `json:"base"`
	}
	if e := decode(r, &in); e != nil {
		return nil, e, nil
	}
	if in.Title != nil && strings.TrimSpace(*in.Title) == "" {
		return nil, errValidation("PullRequest", "title", "missing_field", ""), nil
	}
	if e := bodyTooLong("PullRequest", in.Body); e != nil {
		return nil, e, nil
	}
	if in.State != nil && *in.State != "open" && *in.State != "closed" {
		return nil, errValidation("PullRequest", "state", "invalid", ""), nil
	}
	if in.State != nil && *in.State == "open" && pr.Merged {
		return nil, errValidation("PullRequest", "state", "custom", "Cannot reopen a merged pull request"), nil
	}
	if in.Base != nil {
		if _, ok := rp.branchHead(*in.Base); !ok {
			return nil, errValidation("PullRequest", "base", "invalid", ""), nil
		}
		if pr.Merged {
			return nil, errValidation("PullRequest", "base", "custom", "Cannot change the base branch of a merged pull request"), nil
		}
	}
	var events []event
	now := s.now().UTC()
	if in.Title != nil {
		pr.Title = *in.Title
	}
	if in.Body != nil {
		pr.Body = *in.Body
	}
	if in.Base != nil {
		pr.Base = *in.Base
	}
	action := "edited"
	if in.State != nil && *in.State != pr.State {
		if *in.State == "closed" {
			if sha, ok := rp.branchHead(pr.Head); ok {
				pr.HeadSHA = sha
			}
			pr.ClosedAt, action = &now, "closed"
		} else {
			pr.ClosedAt, action = nil, "reopened"
		}
		pr.State = *in.State
	}
	pr.UpdatedAt = now
	v := rp.view(pr)
	events = append(events, s.pullEvent(rp, action, v))
	return &response{code: 200, body: s.pullJSON(rp, v, true)}, nil, events
}

func (s *Server) isMerged(rp *repo, n int) (*response, *apiError, []event) {
	if pr := rp.pulls[n]; pr != nil && pr.Merged {
		return &response{code: http.StatusNoContent}, nil, nil
	}
	return nil, errNotFound(), nil
}

func (s *Server) mergePull(rp *repo, n int, r *http.Request) (*response, *apiError, []event) {
	pr := rp.pulls[n]
	if pr == nil {
		return nil, errNotFound(), nil
	}
	var in struct {
		CommitTitle   string `json:"commit_title"`
		CommitMessage string `json:"commit_message"`
		SHA           string `json:"sha"`
		MergeMethod   string `json:"merge_method"`
	}
	if r.ContentLength != 0 {
		if e := decode(r, &in); e != nil {
			return nil, e, nil
		}
	}
	if in.MergeMethod != "" && in.MergeMethod != "merge" && in.MergeMethod != "squash" && in.MergeMethod != "rebase" {
		return nil, errValidation("PullRequest", "merge_method", "invalid", ""), nil
	}
	if pr.Merged || pr.State != "open" || (pr.Mergeable != nil && !*pr.Mergeable) {
		return nil, errStatus(http.StatusMethodNotAllowed, "Pull Request is not mergeable"), nil
	}
	v := rp.view(pr)
	if in.SHA != "" && in.SHA != v.HeadSHA {
		return nil, errStatus(http.StatusConflict, "Head branch was modified. Review and try the merge again."), nil
	}
	if _, ok := rp.branchHead(pr.Base); !ok {
		return nil, errValidation("PullRequest", "base", "invalid", ""), nil
	}
	msg := strings.TrimSpace(in.CommitTitle + "\n\n" + in.CommitMessage)
	var sha string
	if s.onMerge != nil {
		var err error
		if sha, err = s.onMerge(rp.name, v); err != nil {
			return nil, errStatus(http.StatusMethodNotAllowed, "Pull Request is not mergeable: "+err.Error()), nil
		}
	} else {
		sum := sha1.Sum([]byte(fmt.Sprintf("merge %s#%d %s %s", rp.name, n, v.HeadSHA, msg)))
		sha = hex.EncodeToString(sum[:])
		if rp.gitDir == "" {
			rp.branches[pr.Base] = sha
		}
	}
	now := s.now().UTC()
	pr.HeadSHA, pr.Merged, pr.MergeCommitSHA, pr.MergeMessage = v.HeadSHA, true, sha, msg
	pr.State, pr.ClosedAt, pr.MergedAt, pr.UpdatedAt = "closed", &now, &now, now
	events := []event{s.pullEvent(rp, "closed", rp.view(pr))}
	if rp.gitDir == "" && s.onMerge == nil {
		events = append(events, s.pushEvent(rp, pr.Base, v.HeadSHA, sha))
	}
	return &response{code: 200, body: map[string]any{"sha": sha, "merged": true, "message": "Pull Request successfully merged"}}, nil, events
}

func (s *Server) createComment(rp *repo, n int, r *http.Request) (*response, *apiError, []event) {
	if rp.pulls[n] == nil {
		return nil, errNotFound(), nil
	}
	var in struct {
		Body *string `json:"body"`
	}
	if e := decode(r, &in); e != nil {
		return nil, e, nil
	}
	if in.Body == nil || *in.Body == "" {
		return nil, errValidation("IssueComment", "body", "missing_field", ""), nil
	}
	if e := bodyTooLong("IssueComment", in.Body); e != nil {
		return nil, e, nil
	}
	c := Comment{ID: s.id(), Body: *in.Body, CreatedAt: s.now().UTC()}
	rp.comments[n] = append(rp.comments[n], c)
	return &response{code: http.StatusCreated, body: s.commentJSON(rp, n, c)}, nil, nil
}

func (s *Server) commentJSON(rp *repo, n int, c Comment) map[string]any {
	return map[string]any{
		"id": c.ID, "body": c.Body, "user": map[string]any{"login": "gitfleet-bot"},
		"created_at": c.CreatedAt, "updated_at": c.CreatedAt,
		"html_url": s.HTMLURL() + fmt.Sprintf("%s/pull/%d#issuecomment-%d", rp.name, n, c.ID),
	}
}

func (s *Server) listComments(rp *repo, n int) (*response, *apiError, []event) {
	if rp.pulls[n] == nil {
		return nil, errNotFound(), nil
	}
	list := []map[string]any{}
	for _, c := range rp.comments[n] {
		list = append(list, s.commentJSON(rp, n, c))
	}
	return &response{code: 200, body: list}, nil, nil
}

func (s *Server) addLabels(rp *repo, n int, r *http.Request) (*response, *apiError, []event) {
	pr := rp.pulls[n]
	if pr == nil {
		return nil, errNotFound(), nil
	}
	// GitHub takes ["a","b"] or {"labels": ["a","b"]}.
	var raw any
	if e := decode(r, &raw); e != nil {
		return nil, e, nil
	}
	var names []string
	collect := func(v any) bool {
		list, ok := v.([]any)
		if !ok {
			return false
		}
		for _, x := range list {
			s, ok := x.(string)
			if !ok || strings.TrimSpace(s) == "" {
				return false
			}
			names = append(names, s)
		}
		return true
	}
	ok := collect(raw)
	if m, isMap := raw.(map[string]any); isMap {
		ok = collect(m["labels"])
	}
	if !ok || len(names) == 0 {
		return nil, errValidation("Label", "labels", "invalid", ""), nil
	}
	for _, l := range names {
		if _, ok := rp.labels[l]; !ok {
			rp.labels[l] = s.id()
		}
		if !contains(pr.Labels, l) {
			pr.Labels = append(pr.Labels, l)
		}
	}
	sort.Strings(pr.Labels)
	return s.listLabels(rp, n)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (s *Server) listLabels(rp *repo, n int) (*response, *apiError, []event) {
	pr := rp.pulls[n]
	if pr == nil {
		return nil, errNotFound(), nil
	}
	list := []map[string]any{}
	for _, l := range pr.Labels {
		list = append(list, map[string]any{"id": rp.labels[l], "name": l, "color": "ededed", "default": false})
	}
	return &response{code: 200, body: list}, nil, nil
}

func (s *Server) removeLabel(rp *repo, n int, name string) (*response, *apiError, []event) {
	pr := rp.pulls[n]
	if pr == nil || !contains(pr.Labels, name) {
		return nil, errStatus(http.StatusNotFound, "Label does not exist"), nil
	}
	var keep []string
	for _, l := range pr.Labels {
		if l != name {
			keep = append(keep, l)
		}
	}
	pr.Labels = keep
	return s.listLabels(rp, n)
}
