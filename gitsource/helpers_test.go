package gitsource

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gitCmd runs the git binary in dir with a fixed identity and returns its trimmed output.
func gitCmd(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=test", "GIT_COMMITTER_EMAIL=test@example.com",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return strings.TrimSpace(string(out))
}

// newBareRepo creates an empty bare repository and returns its directory and file:// URL.
func newBareRepo(t testing.TB) (dir, url string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "remote.git")
	gitCmd(t, "", "init", "-q", "--bare", "-b", "main", dir)
	return dir, "file://" + dir
}

// commitFiles commits files (nil content removes the path) on branch of the repository at
// url with the git binary, creating the branch as an orphan if needed, and returns the sha.
func commitFiles(t testing.TB, url, branch string, files map[string][]byte) string {
	t.Helper()
	work := filepath.Join(t.TempDir(), "work")
	gitCmd(t, "", "init", "-q", "-b", branch, work)
	gitCmd(t, work, "remote", "add", "origin", url)
	if out := gitCmd(t, work, "ls-remote", "origin", "refs/heads/"+branch); out != "" {
		gitCmd(t, work, "fetch", "-q", "origin", branch)
		gitCmd(t, work, "reset", "-q", "--hard", "FETCH_HEAD")
	}
	for p, c := range files {
		full := filepath.Join(work, p)
		if c == nil {
			if err := os.Remove(full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, c, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gitCmd(t, work, "add", "-A")
	gitCmd(t, work, "commit", "-q", "--allow-empty", "-m", "test commit")
	gitCmd(t, work, "push", "-q", "origin", "HEAD:refs/heads/"+branch)
	return gitCmd(t, work, "rev-parse", "HEAD")
}

// readDirFiles returns the regular files under dir (relative, slash-separated), skipping .git.
func readDirFiles(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			out[filepath.ToSlash(rel)] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
