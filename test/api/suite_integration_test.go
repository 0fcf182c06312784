//go:build integration

// Package api tests the validation rules of fleet.gitfleet.dev/v1alpha1 against a real
// kube-apiserver: every rule has an accepted and a rejected object, and each rejection's
// message is asserted, so users get a message that says what to fix.
package api

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/test/envtest"
)

// hub is the API server every test of the package shares (each test uses its own
// namespace).
var hub *envtest.Cluster

func TestMain(m *testing.M) {
	flag.Parse()
	ctrl.SetLogger(envtest.Logger(os.Stderr))
	if testing.Short() {
		fmt.Println("skipping API validation tests in -short mode: they need a real kube-apiserver")
		os.Exit(0)
	}
	c, err := envtest.Start(context.Background(), envtest.Options{
		Name:                  "api-validation",
		AddToScheme:           []func(*runtime.Scheme) error{fleetv1alpha1.AddToScheme},
		ErrorIfCRDPathMissing: true,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the API server:", err)
		os.Exit(1)
	}
	hub = c
	code := m.Run()
	if err := c.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the API server:", err)
	}
	os.Exit(code)
}
