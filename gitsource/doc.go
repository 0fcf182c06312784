// Package gitsource is gitfleet's Git and forge layer: fetching repositories with go-git
// (HTTPS token/basic auth, SSH with known_hosts; shallow, single branch), writing
// environment branches (deterministic commits, atomic push, retry on a fresh base), forge
// clients for commit statuses and pull requests (GitHub through go-github v62, and Gitea),
// and the webhook receiver.
package gitsource
