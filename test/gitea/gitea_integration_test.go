//go:build integration

package gitea_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gitfleet/gitfleet/gitsource"
	"github.com/gitfleet/gitfleet/test/gitea"
	"github.com/gitfleet/gitfleet/test/gitserver"
)

func TestGiteaStartsAndTakesPushes(t *testing.T) {
	s := gitea.StartForTest(t)
	ctx := context.Background()
	repo, err := s.CreateRepo(ctx, "fleet")
	if err != nil {
		t.Fatal(err)
	}
	sha, err := gitserver.Push(ctx, s.RepoURL(repo), s.Auth(), gitserver.Commit{Branch: "main", Files: map[string]string{"README.md": "hi\n"}})
	if err != nil {
		t.Fatalf("Push() = %v", err)
	}
	var branch struct {
		Commit struct{ ID string } `json:"commit"`
	}
	if err := s.Do(ctx, "GET", "repos/"+repo+"/branches/main", nil, &branch); err != nil {
		t.Fatalf("%v\n%s", err, s.Log())
	}
	if branch.Commit.ID != sha {
		t.Errorf("main = %s on Gitea, want the pushed %s", branch.Commit.ID, sha)
	}
}

// Gitea refuses to merge a pull request whose head is no longer head_commit_id; gitfleet's
// Gitea client reports it as ErrHeadMoved.
func TestGiteaMergeChecksTheReviewedHead(t *testing.T) {
	s := gitea.StartForTest(t)
	ctx := context.Background()
	repo, err := s.CreateRepo(ctx, "fleet")
	if err != nil {
		t.Fatal(err)
	}
	push := func(content string) string {
		t.Helper()
		sha, err := gitserver.Push(ctx, s.RepoURL(repo), s.Auth(), gitserver.Commit{Branch: "gitfleet/promote/prod", From: "main", Files: map[string]string{"prod.yaml": content}})
		if err != nil {
			t.Fatalf("Push() = %v", err)
		}
		return sha
	}
	reviewed := push("a: 1\n")
	g, err := gitsource.NewGitea(s.APIURL(), repo, s.Token)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := g.CreatePullRequest(ctx, gitsource.NewPullRequest{Title: "Promote", Head: "gitfleet/promote/prod", Base: "main"})
	if err != nil {
		t.Fatalf("CreatePullRequest() = %v\n%s", err, s.Log())
	}
	pushed := push("a: 2\n")
	// Gitea updates the pull request's head asynchronously after a push.
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := g.GetPullRequest(ctx, pr.Number)
		if err == nil && got.HeadSHA == pushed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pull request's head did not move to %s: %+v, %v", pushed, got, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	err = g.MergePullRequest(ctx, pr.Number, reviewed, "Promote")
	if !errors.Is(err, gitsource.ErrHeadMoved) || !strings.Contains(err.Error(), pushed) {
		t.Fatalf("MergePullRequest(reviewed head %s) after a push = %v, want ErrHeadMoved naming %s", reviewed, err, pushed)
	}
	t.Logf("Gitea's answer: %v", err)
	if got, _ := g.GetPullRequest(ctx, pr.Number); got.Merged {
		t.Fatalf("the pull request was merged")
	}
	if err := g.MergePullRequest(ctx, pr.Number, pushed, "Promote"); err != nil {
		t.Fatalf("MergePullRequest(current head) = %v", err)
	}
	if got, _ := g.GetPullRequest(ctx, pr.Number); !got.Merged {
		t.Fatalf("the pull request was not merged at its current head")
	}
}
