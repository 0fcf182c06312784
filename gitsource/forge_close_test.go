package gitsource

import (
	"context"
	"errors"
	"testing"

	"github.com/gitfleet/gitfleet/test/forge"
)

// TestGitHubClosePullRequestWithComment closes an open pull request with one comment
// saying why, against the strict GitHub double: a retry after the close failed does not
// comment twice, and a merged or closed pull request is left alone.
func TestGitHubClosePullRequestWithComment(t *testing.T) {
	ctx := context.Background()
	srv, gh := newGitHubDouble(t)
	const why = "gitfleet: the Pipeline was deleted"
	pr, err := gh.CreatePullRequest(ctx, NewPullRequest{Title: "Promote abc123 to prod", Head: "gitfleet/promote/prod", Base: "env/prod"})
	if err != nil {
		t.Fatal(err)
	}

	srv.InjectFault(forge.Fault{Method: "PATCH", PathPrefix: "/repos/fleet/config/pulls/1", Count: 1, Status: 422})
	if _, err := gh.ClosePullRequestWithComment(ctx, pr.Number, why); !errors.Is(err, ErrRejected) {
		t.Fatalf("ClosePullRequestWithComment() with the close refused = %v, want ErrRejected", err)
	}
	if got, _ := srv.PullRequest("fleet/config", 1); got.State != "open" {
		t.Fatalf("pull request after a refused close = %s, want open", got.State)
	}
	got, err := gh.ClosePullRequestWithComment(ctx, pr.Number, why)
	if err != nil || got.State != PRClosed || got.Merged {
		t.Fatalf("ClosePullRequestWithComment() retried = %+v, %v; want closed, not merged", got, err)
	}
	if live, _ := srv.PullRequest("fleet/config", 1); live.State != "closed" || live.Merged {
		t.Fatalf("pull request on the forge = %s (merged %v), want closed", live.State, live.Merged)
	}
	if c := srv.Comments("fleet/config", 1); len(c) != 1 || c[0].Body != why {
		t.Fatalf("comments = %+v, want the one comment %q (not repeated by the retry)", c, why)
	}
	if got, err := gh.ClosePullRequestWithComment(ctx, pr.Number, "again"); err != nil || got.State != PRClosed {
		t.Fatalf("ClosePullRequestWithComment(closed) = %+v, %v", got, err)
	}
	if c := srv.Comments("fleet/config", 1); len(c) != 1 {
		t.Fatalf("a closed pull request got a comment: %+v", c)
	}

	srv.SetBranch("fleet/config", "env/staging", shaMain)
	merged, err := gh.CreatePullRequest(ctx, NewPullRequest{Title: "to staging", Head: "gitfleet/promote/prod", Base: "env/staging"})
	if err != nil {
		t.Fatal(err)
	}
	if err := gh.MergePullRequest(ctx, merged.Number, "", "approved"); err != nil {
		t.Fatal(err)
	}
	if got, err := gh.ClosePullRequestWithComment(ctx, merged.Number, why); err != nil || !got.Merged {
		t.Fatalf("ClosePullRequestWithComment(merged) = %+v, %v; want it left merged", got, err)
	}
	if c := srv.Comments("fleet/config", merged.Number); len(c) != 0 {
		t.Fatalf("a merged pull request got a comment: %+v", c)
	}
	if _, err := gh.ClosePullRequestWithComment(ctx, 99, why); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ClosePullRequestWithComment(99) = %v, want ErrNotFound", err)
	}
}
