package demo

import (
	"context"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// playControllerManager stands in for the kube-controller-manager and kubelets that a
// bare API server lacks: every second it marks each Deployment's replicas as updated,
// ready and available, as the deployment controller would once its pods run.
func playControllerManager(ctx context.Context, c client.Client) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var list appsv1.DeploymentList
		if err := c.List(ctx, &list); err != nil {
			continue
		}
		for i := range list.Items {
			dep := &list.Items[i]
			want := int32(1)
			if dep.Spec.Replicas != nil {
				want = *dep.Spec.Replicas
			}
			st := dep.Status
			if st.ObservedGeneration == dep.Generation && st.AvailableReplicas == want && st.Replicas == want {
				continue
			}
			dep.Status = appsv1.DeploymentStatus{
				ObservedGeneration: dep.Generation, Replicas: want, UpdatedReplicas: want, ReadyReplicas: want, AvailableReplicas: want,
				Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: "True", Reason: "MinimumReplicasAvailable",
					LastUpdateTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
			}
			_ = c.Status().Update(ctx, dep)
		}
	}
}
