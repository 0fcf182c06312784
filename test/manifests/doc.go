// Package manifests tests the deployable manifests of config/: the kustomize bases of the
// hub (config/hub), of the member agent (config/agent) and of an agent's access to the
// hub (config/hub-member-access).
//
// The tests without a build tag build every kustomization with krusty and check that the
// output holds together (references resolve, every container flag exists in its
// command). The tests with the build tag integration apply the output to real API
// servers, with a server-side dry run, and check the hub-side RBAC of an agent by acting
// as its ServiceAccount.
package manifests
