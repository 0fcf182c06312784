package hub_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	fleetv1alpha1 "github.com/gitfleet/gitfleet/api/v1alpha1"
	"github.com/gitfleet/gitfleet/controllers/hub"
	"github.com/gitfleet/gitfleet/gitsource"
	"github.com/gitfleet/gitfleet/test/forge"
)

var limitSecret = []byte("hook-secret")

// limitedReceiver serves a WebhookReceiver for the GitSource fleet/config on 127.0.0.1.
func limitedReceiver(t *testing.T, limits hub.WebhookLimits, clk clock.PassiveClock, log logr.Logger) (addr, path string, rcv *hub.WebhookReceiver) {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := fleetv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "fleet", Name: "hook"}, Data: map[string][]byte{"token": limitSecret}},
		&fleetv1alpha1.GitSource{ObjectMeta: metav1.ObjectMeta{Namespace: "fleet", Name: "config"},
			Spec: fleetv1alpha1.GitSourceSpec{URL: "https://example.com/fleet.git", Branch: "main",
				WebhookSecretRef: &fleetv1alpha1.LocalObjectReference{Name: "hook"}}},
	).Build()
	if clk == nil {
		clk = clock.RealClock{}
	}
	rcv = &hub.WebhookReceiver{Client: c, Parser: gitsource.NewWebhookParser(), Clock: clk, Limits: limits, Log: log}
	srv := httptest.NewServer(rcv)
	t.Cleanup(func() {
		srv.CloseClientConnections() // a held request of a failed test must not block Close
		srv.Close()
	})
	return strings.TrimPrefix(srv.URL, "http://"), hub.WebhookPathPrefix + "fleet/config", rcv
}

// rawPost sends the headers of a push webhook announcing length bytes (-1: chunked) and
// the first send bytes of its body, and returns the open connection.
func rawPost(t *testing.T, addr, path string, length int64, send int) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var b bytes.Buffer
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nX-GitHub-Event: push\r\n", path, addr)
	fmt.Fprintf(&b, "X-Hub-Signature-256: sha256=%s\r\n", strings.Repeat("0", 64))
	if length >= 0 {
		fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", length)
		b.Write(bytes.Repeat([]byte("x"), send))
	} else {
		fmt.Fprintf(&b, "Transfer-Encoding: chunked\r\n\r\n")
		if send > 0 {
			fmt.Fprintf(&b, "%x\r\n%s\r\n", send, bytes.Repeat([]byte("x"), send))
		}
	}
	if _, err := conn.Write(b.Bytes()); err != nil {
		t.Fatal(err)
	}
	return conn
}

// finish sends the rest of a rawPost body (n more bytes; chunked: n then the last chunk).
func finish(t *testing.T, conn net.Conn, n int, chunked bool) {
	t.Helper()
	body := bytes.Repeat([]byte("x"), n)
	if chunked {
		body = []byte(fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", n, body))
	}
	if _, err := conn.Write(body); err != nil {
		t.Fatal(err)
	}
}

// status reads the answer's status code from conn.
func status(t *testing.T, conn net.Conn) int {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// post sends a push webhook of size bytes, signed with secret (nil: a wrong signature),
// chunked when chunked, and returns the status code and how long the answer took.
func post(t *testing.T, addr, path string, size int, chunked bool, secret []byte) (int, time.Duration) {
	t.Helper()
	body := []byte(`{"ref":"refs/heads/main","after":"0123456789abcdef0123456789abcdef01234567","repository":{"full_name":"a/b"}}`)
	if size > len(body) {
		body = append(body, bytes.Repeat([]byte(" "), size-len(body))...)
	}
	start := time.Now()
	if secret != nil {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-Hub-Signature-256", forge.Sign(secret, body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, time.Since(start)
	}
	length := int64(len(body))
	if chunked {
		length = -1
	}
	conn := rawPost(t, addr, path, length, 0)
	defer conn.Close()
	go func() { // the receiver may answer before it read everything
		if chunked {
			_, _ = fmt.Fprintf(conn, "%x\r\n%s\r\n0\r\n\r\n", len(body), body)
		} else {
			_, _ = conn.Write(body)
		}
	}()
	return status(t, conn), time.Since(start)
}

// waitAdmitted waits until the receiver reads slots bodies holding bytes bytes: the held
// requests were admitted. A probe sent before could take the room a held request needs,
// and the held request would be refused instead of the probe.
func waitAdmitted(t *testing.T, rcv *hub.WebhookReceiver, slots int, bytes int64) {
	t.Helper()
	NewWithT(t).Eventually(func(g Gomega) {
		s, b := rcv.InFlight()
		g.Expect([]int64{int64(s), b}).To(Equal([]int64{int64(slots), bytes}), "bodies in flight and their bytes")
	}).WithTimeout(10 * time.Second).WithPolling(5 * time.Millisecond).Should(Succeed())
}

func TestWebhookTooLargeIsRefusedUnread(t *testing.T) {
	addr, path, _ := limitedReceiver(t, hub.WebhookLimits{}, nil, logr.Discard())
	conn := rawPost(t, addr, path, gitsource.MaxWebhookPayload+1, 0) // no body sent
	if got := status(t, conn); got != http.StatusRequestEntityTooLarge {
		t.Fatalf("POST announcing %d bytes = %d, want 413", gitsource.MaxWebhookPayload+1, got)
	}
}

func TestWebhookConcurrencyLimit(t *testing.T) {
	addr, path, rcv := limitedReceiver(t, hub.WebhookLimits{MaxConcurrent: 2}, nil, logr.Discard())
	held := []net.Conn{rawPost(t, addr, path, 1000, 10), rawPost(t, addr, path, 1000, 10)}
	waitAdmitted(t, rcv, 2, 2000)
	// The held ones stay held: a receiver that queued the third would not answer it.
	if code, _ := post(t, addr, path, 100, false, nil); code != http.StatusServiceUnavailable {
		t.Fatalf("POST beside 2 held = %d, want 503", code)
	}
	for _, c := range held {
		finish(t, c, 990, false)
		if got := status(t, c); got != http.StatusUnauthorized {
			t.Fatalf("held POST with a wrong signature = %d, want 401", got)
		}
	}
	if code, _ := post(t, addr, path, 100, false, limitSecret); code != http.StatusOK {
		t.Fatalf("signed POST after the held ones = %d, want 200", code)
	}
}

func TestWebhookInFlightBytesLimit(t *testing.T) {
	addr, path, rcv := limitedReceiver(t, hub.WebhookLimits{MaxConcurrent: 10, MaxInFlightBytes: 1 << 20}, nil, logr.Discard())
	held := rawPost(t, addr, path, 800<<10, 10)
	waitAdmitted(t, rcv, 1, 800<<10)
	// Known lengths: 300 KiB does not fit beside the held 800 KiB, 100 KiB does.
	if code, _ := post(t, addr, path, 300<<10, false, nil); code != http.StatusServiceUnavailable {
		t.Fatalf("POST of 300 KiB beside 800 KiB held = %d, want 503", code)
	}
	if code, _ := post(t, addr, path, 100<<10, false, nil); code != http.StatusUnauthorized {
		t.Fatalf("POST of 100 KiB beside 800 KiB held = %d, want 401", code)
	}
	// Unknown length: refused when it outgrows what is left.
	if code, _ := post(t, addr, path, 400<<10, true, nil); code != http.StatusServiceUnavailable {
		t.Fatalf("chunked POST of 400 KiB beside 800 KiB held = %d, want 503", code)
	}
	finish(t, held, 800<<10-10, false)
	if got := status(t, held); got != http.StatusUnauthorized {
		t.Fatalf("held POST with a wrong signature = %d, want 401", got)
	}
	if code, _ := post(t, addr, path, 400<<10, true, nil); code != http.StatusUnauthorized {
		t.Fatalf("chunked POST of 400 KiB alone = %d, want 401", code)
	}
	if code, _ := post(t, addr, path, 900<<10, false, limitSecret); code != http.StatusOK {
		t.Fatalf("signed POST of 900 KiB alone = %d, want 200", code)
	}
}

func TestWebhookRefusalLogIsRateLimited(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	log := funcr.New(func(_, args string) {
		mu.Lock()
		lines = append(lines, args)
		mu.Unlock()
	}, funcr.Options{})
	clk := clocktesting.NewFakePassiveClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	addr, path, _ := limitedReceiver(t, hub.WebhookLimits{RefusalLogInterval: 10 * time.Second}, clk, log)
	for range 30 {
		if code, _ := post(t, addr, path, 100, false, nil); code != http.StatusUnauthorized {
			t.Fatalf("POST with a wrong signature = %d, want 401", code)
		}
	}
	mu.Lock()
	if len(lines) != 1 {
		t.Fatalf("30 refused webhooks logged %d lines, want 1: %q", len(lines), lines)
	}
	mu.Unlock()
	clk.SetTime(clk.Now().Add(11 * time.Second))
	post(t, addr, path, 100, false, nil)
	mu.Lock()
	defer mu.Unlock()
	if len(lines) != 2 || !strings.Contains(lines[1], `"refusedNotLogged"=29`) {
		t.Fatalf("after the interval, lines = %q, want a second one counting 29 not logged", lines)
	}
}
