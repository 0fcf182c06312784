//go:build integration

package gitea_test

import (
	"context"
	"testing"

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
