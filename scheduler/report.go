package scheduler

import "sort"

// notSelected tracks the clusters a cycle did not select: how many, and the first
// MaxNotSelected by name among those the current decisions select and among the
// others. That is all a Result reports, so thousands of rejections need not be kept.
type notSelected struct {
	total   int
	current []rejection
	others  []rejection
}

// add records a rejection; current says whether the current decisions select it.
func (n *notSelected) add(r rejection, current bool) {
	n.total++
	if current {
		n.current = keepFirst(n.current, r)
	} else {
		n.others = keepFirst(n.others, r)
	}
}

// first returns the rejections to report: the currently selected ones, then the
// others, each by name, at most MaxNotSelected in all.
func (n *notSelected) first() []rejection {
	out := make([]rejection, 0, min(n.total, MaxNotSelected))
	out = append(out, n.current...)
	return append(out, n.others[:min(len(n.others), MaxNotSelected-len(out))]...)
}

// keepFirst inserts r into list, sorted by name, keeping at most MaxNotSelected. For
// rejections that arrive in name order it costs one comparison once the list is full.
func keepFirst(list []rejection, r rejection) []rejection {
	if len(list) == MaxNotSelected && list[len(list)-1].name <= r.name {
		return list
	}
	i := sort.Search(len(list), func(i int) bool { return list[i].name > r.name })
	if len(list) < MaxNotSelected {
		list = append(list, rejection{})
	}
	copy(list[i+1:], list[i:len(list)-1])
	list[i] = r
	return list
}
