// Command webhook measures the hub's webhook receiver under a flood of large unsigned
// bodies (issue 20's benchmark): a child process serves hub.WebhookReceiver (with its
// default limits) for a GitSource that has a webhook secret, on 127.0.0.1; this process
// posts N parallel bodies of S MB with a wrong signature to it, and reads the child's
// peak resident set size (VmHWM) and the answers. Target: peak RSS ≤ 200 MB for 50
// parallel 20 MB bodies.
//
//	go run ./test/bench/webhook [-parallel 50] [-size-mb 20] [-rounds 2]
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/hub"
	"github.com/gitfleet/gitfleet/gitsource"
)

// targetMB is issue 20's bound on the receiver's peak RSS under the flood.
const targetMB = 200

func main() {
	serve := flag.Bool("serve", false, "run the receiver (the child process)")
	parallel := flag.Int("parallel", 50, "bodies posted at once")
	sizeMB := flag.Int("size-mb", 20, "size of each body, in MB")
	rounds := flag.Int("rounds", 2, "floods, one after the other")
	flag.Parse()
	if *serve {
		if err := runServer(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if err := run(*parallel, *sizeMB, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// runServer serves the receiver on 127.0.0.1, prints its address and runs until stdin
// closes.
func runServer() error {
	ctrl.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		return err
	}
	if err := fleetv1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "fleet", Name: "hook"}, Data: map[string][]byte{"token": []byte("s3cret")}},
		&fleetv1alpha1.GitSource{ObjectMeta: metav1.ObjectMeta{Namespace: "fleet", Name: "config"},
			Spec: fleetv1alpha1.GitSourceSpec{URL: "https://example.com/fleet.git", Branch: "main",
				WebhookSecretRef: &fleetv1alpha1.LocalObjectReference{Name: "hook"}}},
	).Build()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(hub.WebhookPathPrefix, &hub.WebhookReceiver{Client: c, Parser: gitsource.NewWebhookParser(), Clock: clock.RealClock{}})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	fmt.Println(ln.Addr().String())
	_, _ = io.Copy(io.Discard, os.Stdin)
	return srv.Close()
}

func run(parallel, sizeMB, rounds int) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, "-serve")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = stdin.Close(); _ = cmd.Wait() }()
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return fmt.Errorf("reading the receiver's address: %w", err)
	}
	url := "http://" + strings.TrimSpace(addr) + hub.WebhookPathPrefix + "fleet/config"
	pid := cmd.Process.Pid

	fmt.Printf("webhook flood: %d parallel bodies of %d MB with a wrong signature, %d rounds\n", parallel, sizeMB, rounds)
	fmt.Printf("receiver RSS before: %.0f MB\n", mb(procStatus(pid, "VmRSS")))
	size := int64(sizeMB) << 20
	tr := &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: parallel, DisableCompression: true}
	hc := &http.Client{Transport: tr, Timeout: 5 * time.Minute}
	for round := 1; round <= rounds; round++ {
		codes := map[string]int{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := time.Now()
		var slowest time.Duration
		for range parallel {
			wg.Go(func() {
				t0 := time.Now()
				code := post(hc, url, size)
				d := time.Since(t0)
				mu.Lock()
				codes[code]++
				slowest = max(slowest, d)
				mu.Unlock()
			})
		}
		wg.Wait()
		fmt.Printf("round %d: %s in %s (slowest answer %s); receiver RSS now %.0f MB, peak %.0f MB\n", round, describe(codes),
			time.Since(start).Round(time.Millisecond), slowest.Round(time.Millisecond), mb(procStatus(pid, "VmRSS")), mb(procStatus(pid, "VmHWM")))
	}
	peak := mb(procStatus(pid, "VmHWM"))
	verdict := "met"
	if peak > targetMB {
		verdict = "NOT met"
	}
	fmt.Printf("receiver peak RSS: %.0f MB (target ≤ %d MB: %s)\n", peak, targetMB, verdict)
	return nil
}

// post sends one body of size bytes of junk with a wrong signature and returns the
// answer's status code, or the error.
func post(hc *http.Client, url string, size int64) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, io.LimitReader(junk{}, size))
	if err != nil {
		return err.Error()
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-Hub-Signature-256", "sha256="+strings.Repeat("0", 64))
	resp, err := hc.Do(req)
	if err != nil {
		// The receiver may answer and close before the whole body is sent.
		if strings.Contains(err.Error(), "broken pipe") || strings.Contains(err.Error(), "connection reset") {
			return "closed while sending"
		}
		return "error: " + err.Error()
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return strconv.Itoa(resp.StatusCode)
}

func describe(codes map[string]int) string {
	var parts []string
	for c, n := range codes {
		parts = append(parts, fmt.Sprintf("%d× %s", n, c))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// junk is an endless body of 'x'.
type junk struct{}

func (junk) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

// procStatus reads a kB field of /proc/<pid>/status, in bytes.
func procStatus(pid int, field string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return -1
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }
