package v1alpha1

import "testing"

func TestPrunesOnDeletion(t *testing.T) {
	yes, no := true, false
	for name, tc := range map[string]struct {
		policy  DeletionPolicy
		prune   *bool
		suspend bool
		want    bool
	}{
		"default (MirrorPrune, prune defaulted)": {want: true},
		"MirrorPrune, prune true":                {policy: DeletionMirrorPrune, prune: &yes, want: true},
		"MirrorPrune, prune false":               {policy: DeletionMirrorPrune, prune: &no, want: false},
		"Delete, prune false":                    {policy: DeletionDelete, prune: &no, want: true},
		"Orphan, prune true":                     {policy: DeletionOrphan, prune: &yes, want: false},
		"Delete, suspended":                      {policy: DeletionDelete, suspend: true, want: false},
	} {
		cs := &ClusterSync{Spec: ClusterSyncSpec{DeletionPolicy: tc.policy, Suspend: tc.suspend, ApplyPolicy: ApplyPolicy{Prune: tc.prune}}}
		if got := cs.PrunesOnDeletion(); got != tc.want {
			t.Errorf("%s: PrunesOnDeletion() = %v, want %v", name, got, tc.want)
		}
	}
}
