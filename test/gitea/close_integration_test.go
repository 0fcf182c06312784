//go:build integration

package gitea_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/gitfleet/gitfleet/gitsource"
	"github.com/gitfleet/gitfleet/test/gitea"
	"github.com/gitfleet/gitfleet/test/gitserver"
)

// TestGiteaClosePullRequestWithComment closes a pull request on a real Gitea through
// gitsource's Gitea client, with one comment saying why: a second call (a retry) neither
// comments again nor fails.
func TestGiteaClosePullRequestWithComment(t *testing.T) {
	s := gitea.StartForTest(t)
	ctx := context.Background()
	repo, err := s.CreateRepo(ctx, "fleet")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []gitserver.Commit{
		{Branch: "env/prod", Files: map[string]string{"README.md": "prod\n"}},
		{Branch: "gitfleet/promote/prod", Files: map[string]string{"README.md": "prod v2\n"}},
	} {
		if _, err := gitserver.Push(ctx, s.RepoURL(repo), s.Auth(), c); err != nil {
			t.Fatalf("Push(%s) = %v", c.Branch, err)
		}
	}
	api, err := gitsource.NewGitea(s.APIURL(), repo, s.Token)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := api.CreatePullRequest(ctx, gitsource.NewPullRequest{Title: "promote", Head: "gitfleet/promote/prod", Base: "env/prod"})
	if err != nil {
		t.Fatalf("CreatePullRequest() = %v\n%s", err, s.Log())
	}
	const why = "gitfleet: the Pipeline was deleted"
	for i := range 2 {
		got, err := api.ClosePullRequestWithComment(ctx, pr.Number, why)
		if err != nil || got.State != gitsource.PRClosed || got.Merged {
			t.Fatalf("ClosePullRequestWithComment() call %d = %+v, %v; want closed, not merged", i+1, got, err)
		}
	}
	var live struct{ State string }
	if err := s.Do(ctx, "GET", "repos/"+repo+"/pulls/"+strconv.Itoa(pr.Number), nil, &live); err != nil || live.State != "closed" {
		t.Fatalf("pull request on Gitea = %+v (err %v), want closed", live, err)
	}
	var comments []struct{ Body string }
	if err := s.Do(ctx, "GET", "repos/"+repo+"/issues/"+strconv.Itoa(pr.Number)+"/comments", nil, &comments); err != nil {
		t.Fatal(err)
	}
	if len(comments) != 1 || comments[0].Body != why {
		t.Fatalf("comments on Gitea = %+v, want the one comment %q", comments, why)
	}
}
