package demo

import (
	"context"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/test/envtest"
	"github.com/gitfleet/gitfleet/test/gitserver"
)

// memberClusterYAML is a MemberCluster as the fleet repo declares it.
func memberClusterYAML(name, stage, region, state string) string {
	return fmt.Sprintf("---\napiVersion: fleet.gitfleet.dev/v1alpha1\nkind: MemberCluster\nmetadata:\n  name: %s\n  labels: {stage: %s, region: %s}\nspec:\n  heartbeatGracePeriod: 1m\n  state: %s\n",
		name, stage, region, state)
}

// Join starts one more member cluster with its agent and adds its MemberCluster to the
// fleet repo by a commit, as a platform team would. The member runs until Stop; ctx bounds
// the joining only.
func (d *Demo) Join(ctx context.Context, name, stage, region string) (Member, error) {
	c, err := envtest.Start(d.ctx, envtest.Options{Name: name, AddToScheme: []func(*runtime.Scheme) error{fleetv1alpha1.AddToScheme}})
	if err != nil {
		return Member{}, err
	}
	m := Member{Name: name, Stage: stage, Cluster: c}
	d.Members = append(d.Members, m)
	if err := d.setupMember(ctx, m); err != nil {
		return m, err
	}
	if _, err := d.start("gitfleet-agent", c.Kubeconfig, "--metrics-bind-address=0", "--health-probe-bind-address=0",
		"--work-dir="+d.opts.LogDir+"/agent-"+name); err != nil {
		return m, err
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		playControllerManager(d.ctx, c.Client)
	}()
	return m, d.editClusters(ctx, "fleet: "+name+" joins", func(s string) string { return s + memberClusterYAML(name, stage, region, "Join") })
}

// Leave marks a member's MemberCluster as leaving (spec.state: Leave), by a commit.
func (d *Demo) Leave(ctx context.Context, name string) error {
	return d.editClusters(ctx, "fleet: "+name+" leaves", func(s string) string {
		docs := strings.Split(s, "\n---\n")
		for i, doc := range docs {
			if !strings.Contains(doc, "  name: "+name+"\n") {
				continue
			}
			if strings.Contains(doc, "state: Join") {
				docs[i] = strings.Replace(doc, "state: Join", "state: Leave", 1)
			} else {
				docs[i] = strings.Replace(doc, "\nspec:\n", "\nspec:\n  state: Leave\n", 1)
			}
		}
		return strings.Join(docs, "\n---\n")
	})
}

func (d *Demo) editClusters(ctx context.Context, msg string, edit func(string) string) error {
	files, err := gitserver.ReadBranch(ctx, d.RepoURL, d.auth(), "main")
	if err != nil {
		return err
	}
	_, err = gitserver.Push(ctx, d.RepoURL, d.auth(), gitserver.Commit{Branch: "main", Message: msg,
		Files: map[string]string{"fleet/clusters.yaml": edit(files["fleet/clusters.yaml"])}})
	return err
}

// WaitPruned waits until the member no longer runs the podinfo Deployment.
func (d *Demo) WaitPruned(ctx context.Context, name string) error {
	m, err := d.member(name)
	if err != nil {
		return err
	}
	return wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		err := m.Cluster.Client.Get(ctx, client.ObjectKey{Namespace: "podinfo", Name: "podinfo"}, &appsv1.Deployment{})
		return apierrors.IsNotFound(err), nil
	})
}

// WaitApplied waits until the member's agent applied its branch head and is Ready.
func (d *Demo) WaitApplied(ctx context.Context, name string) error { return d.waitApplied(ctx, name) }

// Files returns the files of a branch of the fleet repo.
func (d *Demo) Files(ctx context.Context, branch string) (map[string]string, error) {
	return gitserver.ReadBranch(ctx, d.RepoURL, d.auth(), branch)
}

// OpenProdPRs returns the open pull requests into env/prod, as "#N title (head)".
func (d *Demo) OpenProdPRs(ctx context.Context) ([]string, error) {
	var prs []pullRequest
	if err := d.Gitea.Do(ctx, "GET", "repos/"+d.Repo+"/pulls?state=open", nil, &prs); err != nil {
		return nil, err
	}
	var out []string
	for _, p := range prs {
		if p.Base.Ref == "env/prod" {
			out = append(out, fmt.Sprintf("#%d %s (%s at %.7s)", p.Number, p.Title, p.Head.Ref, p.Head.SHA))
		}
	}
	return out, nil
}
