package v1alpha1

// Formats shared by the messages gitfleet writes into status fields, conditions, events,
// commit statuses and pull requests, so that the hub, the agent and the CLI show a
// revision the same way.

// ShortSHA is the first 7 characters of a commit SHA, as status summaries
// ("dev@1a2b3c4") and messages show it; shorter strings are returned as they are.
func ShortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// Plural is one when n is 1, else many: Plural(n, "cluster", "clusters").
func Plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
