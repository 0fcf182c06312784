package hydrate

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
)

// MetadataFile and ReadmeFile are the two files at the root of every environment branch.
const (
	MetadataFile = "gitfleet.json"
	ReadmeFile   = "README.md"
	// ClustersDir holds one folder per cluster.
	ClustersDir = "clusters/"
)

// Scope is what the hydrator owns in an environment branch: everything else (a LICENSE,
// a CODEOWNERS someone added) is left alone.
var Scope = []string{ClustersDir, MetadataFile, ReadmeFile}

// Versions names the tools whose output the branch holds, recorded in gitfleet.json so a
// render can be reproduced.
type Versions struct {
	Gitfleet  string `json:"gitfleet"`
	Helm      string `json:"helm"`
	Kustomize string `json:"kustomize"`
}

// Version is gitfleet's version: the hub records it in gitfleet.json, and `gitfleet
// version` prints it. Set at build time with
// -ldflags "-X github.com/gitfleet/gitfleet/hydrate.Version=v0.1.0".
var Version = "v0.1.0-dev"

// ToolVersions are the versions recorded in every branch's gitfleet.json: gitfleet's own
// (Version) and those of the Helm and kustomize libraries it renders with (pinned in
// go.mod). The hub and `gitfleet render` record the same.
func ToolVersions() Versions {
	return Versions{Gitfleet: Version, Helm: "v3.22.0", Kustomize: "v0.21.2"}
}

// Metadata is gitfleet.json: which dry revision the branch holds, for which stage, made
// by which tools, and a digest per cluster (so an agent or a reviewer can tell which
// clusters a commit changes).
type Metadata struct {
	Source    SourceRef                  `json:"source"`
	Stage     string                     `json:"stage"`
	Pipelines []string                   `json:"pipelines,omitempty"`
	Generator Versions                   `json:"generator"`
	Clusters  map[string]ClusterMetadata `json:"clusters"`
	// Stale lists cluster/placement folders kept from an earlier revision because this
	// one failed to render for them.
	Stale []string `json:"stale,omitempty"`
}

// SourceRef is the dry revision.
type SourceRef struct {
	Repository string `json:"repository"`
	Branch     string `json:"branch"`
	Commit     string `json:"commit"`
}

// ClusterMetadata summarises one cluster's folder.
type ClusterMetadata struct {
	Digest     string   `json:"digest"`
	Placements []string `json:"placements"`
	Files      int      `json:"files"`
}

// Desired returns the branch's files under Scope, given its current files under Scope:
// the rendered files, the last good files of pairs that failed, gitfleet.json and
// README.md. Everything else under clusters/ (a cluster or placement that left) is
// dropped. The result depends only on its inputs, so the same inputs give the same bytes.
func (b *Branch) Desired(current map[string][]byte, source SourceRef, versions Versions) map[string][]byte {
	out := make(map[string][]byte, len(b.Files)+2)
	for p, data := range b.Files {
		// An object whose content did not change keeps its file, and so the revision its
		// content comes from: a new dry commit only touches the files it changes.
		if cur, ok := current[p]; ok && sameButRevision(cur, data) {
			data = cur
		}
		out[p] = data
	}
	var stale []string
	for _, pair := range b.Failed {
		prefix := pair.Dir() + "/"
		kept := false
		for p, data := range current {
			if strings.HasPrefix(p, prefix) {
				out[p] = data
				kept = true
			}
		}
		if kept {
			stale = append(stale, pair.Cluster+"/"+pair.Placement)
		}
	}
	meta := Metadata{Source: source, Stage: b.Stage, Pipelines: b.Pipelines, Generator: versions,
		Clusters: clusterDigests(out, b.Pairs), Stale: stale}
	data, _ := json.MarshalIndent(meta, "", "  ")
	out[MetadataFile] = append(data, '\n')
	out[ReadmeFile] = []byte(readme(b, source))
	return out
}

// revisionKey is the provenance annotation's key as it starts its line in canonical YAML.
var revisionKey = []byte(fleetv1alpha1.SourceRevisionAnnotation + ": ")

// sameButRevision reports whether two rendered files differ at most in the value of their
// source-revision annotation.
func sameButRevision(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	ia, ib := bytes.Index(a, revisionKey), bytes.Index(b, revisionKey)
	if ia < 0 || ia != ib || !bytes.Equal(a[:ia], b[:ib]) {
		return false
	}
	restA, restB := a[ia+len(revisionKey):], b[ib+len(revisionKey):]
	ea, eb := bytes.IndexByte(restA, '\n'), bytes.IndexByte(restB, '\n')
	if ea < 0 || eb < 0 {
		return false
	}
	return bytes.Equal(restA[ea:], restB[eb:])
}

func clusterDigests(files map[string][]byte, pairs []Pair) map[string]ClusterMetadata {
	byCluster := map[string][]string{}
	for p := range files {
		if !strings.HasPrefix(p, ClustersDir) {
			continue
		}
		c, _, _ := strings.Cut(strings.TrimPrefix(p, ClustersDir), "/")
		byCluster[c] = append(byCluster[c], p)
	}
	placements := map[string][]string{}
	for _, pr := range pairs {
		placements[pr.Cluster] = append(placements[pr.Cluster], pr.Placement)
	}
	out := map[string]ClusterMetadata{}
	for c, paths := range byCluster {
		sort.Strings(paths)
		h := sha256.New()
		for _, p := range paths {
			fmt.Fprintf(h, "%s\x00%d\x00", p, len(files[p]))
			h.Write(files[p])
		}
		ps := placements[c]
		sort.Strings(ps)
		out[c] = ClusterMetadata{Digest: "sha256:" + hex.EncodeToString(h.Sum(nil)), Placements: ps, Files: len(paths)}
	}
	// A selected pair with no files yet (first render failed) still shows its cluster.
	for c, ps := range placements {
		if _, ok := out[c]; !ok {
			sort.Strings(ps)
			out[c] = ClusterMetadata{Placements: ps}
		}
	}
	return out
}

func readme(b *Branch, source SourceRef) string {
	var s strings.Builder
	fmt.Fprintf(&s, "# %s\n\n", b.Name)
	fmt.Fprintf(&s, "This branch is written by gitfleet: it holds the rendered manifests of stage `%s`, one folder per\n", b.Stage)
	s.WriteString("member cluster, for the revision of the fleet config repo named in `gitfleet.json`. Do not edit it\n")
	s.WriteString("by hand: change the fleet config repo instead, and gitfleet renders and commits here.\n\n")
	s.WriteString("Layout: `clusters/<cluster>/<placement>/<namespace>/<kind>-<name>.yaml` (cluster-scoped objects\n")
	s.WriteString("under `_cluster/`). Each cluster's gitfleet-agent applies its own folder.\n\n")
	s.WriteString("To reproduce this branch locally from a checkout of the fleet config repo:\n\n")
	fmt.Fprintf(&s, "```sh\ngit checkout %s\ngitfleet render . --all --out /tmp/rendered\n```\n", source.Commit)
	return s.String()
}
