package gitsource

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ssh"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func testIdentity(t *testing.T) (priv []byte, pub ssh.PublicKey) {
	t.Helper()
	pk, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(sk, "")
	if err != nil {
		t.Fatal(err)
	}
	pub, err = ssh.NewPublicKey(pk)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block), pub
}

func secret(data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "fleet", Name: "creds"}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func TestAuthFromSecret(t *testing.T) {
	identity, hostKey := testIdentity(t)
	knownHosts := "git.example.com " + string(ssh.MarshalAuthorizedKey(hostKey))
	tests := map[string]struct {
		data    map[string]string
		want    *Auth
		wantErr string // substring; the error must also wrap ErrAuthentication
	}{
		"basic":        {data: map[string]string{"username": "u", "password": "p4ss"}, want: &Auth{Username: "u", Password: "p4ss"}},
		"bearer token": {data: map[string]string{"bearerToken": "t0k"}, want: &Auth{BearerToken: "t0k"}},
		"token alias":  {data: map[string]string{"token": "t0k"}, want: &Auth{BearerToken: "t0k"}},
		"ssh": {data: map[string]string{"identity": string(identity), "known_hosts": knownHosts},
			want: &Auth{SSHIdentity: identity, SSHKnownHosts: []byte(knownHosts)}},
		"username without password":    {data: map[string]string{"username": "u"}, wantErr: `key "password" is missing`},
		"password without username":    {data: map[string]string{"password": "p4ss"}, wantErr: `key "username" is missing`},
		"identity without known_hosts": {data: map[string]string{"identity": string(identity)}, wantErr: `key "known_hosts" is missing`},
		"known_hosts without identity": {data: map[string]string{"known_hosts": knownHosts}, wantErr: `key "identity" is missing`},
		"bad identity":                 {data: map[string]string{"identity": "not a key s3cret", "known_hosts": knownHosts}, wantErr: `key "identity"`},
		"empty":                        {data: map[string]string{}, wantErr: "none of the keys"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := AuthFromSecret(secret(tc.data))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrAuthentication) {
					t.Fatalf("AuthFromSecret(%s) = %v, want an ErrAuthentication containing %q", name, err, tc.wantErr)
				}
				for _, v := range tc.data {
					if len(v) > 3 && strings.Contains(err.Error(), v) {
						t.Fatalf("AuthFromSecret(%s) error %q leaks a secret value", name, err)
					}
				}
				if !strings.Contains(err.Error(), "fleet/creds") {
					t.Fatalf("AuthFromSecret(%s) error %q does not name the secret", name, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("AuthFromSecret(%s) = %v", name, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("AuthFromSecret(%s) (-want +got):\n%s", name, diff)
			}
		})
	}
	if _, err := AuthFromSecret(nil); !errors.Is(err, ErrAuthentication) {
		t.Fatalf("AuthFromSecret(nil) = %v, want ErrAuthentication", err)
	}
}

func TestAuthStringHidesSecrets(t *testing.T) {
	a := &Auth{Username: "u", Password: "hunter2", BearerToken: "tok123", SSHIdentity: []byte("KEY")}
	for _, s := range []string{a.String(), a.GoString()} {
		for _, secret := range []string{"hunter2", "tok123", "KEY"} {
			if strings.Contains(s, secret) {
				t.Fatalf("Auth.String() = %q leaks %q", s, secret)
			}
		}
	}
}

func TestAuthMethod(t *testing.T) {
	identity, hostKey := testIdentity(t)
	kh := "[127.0.0.1]:2222 " + string(ssh.MarshalAuthorizedKey(hostKey))
	am, err := authMethod("https://h/r.git", &Auth{Username: "u", Password: "p"})
	if b, ok := am.(*http.BasicAuth); err != nil || !ok || b.Username != "u" || b.Password != "p" {
		t.Fatalf("authMethod(https, basic) = %#v, %v", am, err)
	}
	am, err = authMethod("https://h/r.git", &Auth{Username: "u", Password: "p", BearerToken: "t"})
	if b, ok := am.(*http.TokenAuth); err != nil || !ok || b.Token != "t" {
		t.Fatalf("authMethod(https, bearer) = %#v, %v", am, err)
	}
	am, err = authMethod("ssh://deploy@127.0.0.1:2222/r.git", &Auth{SSHIdentity: identity, SSHKnownHosts: []byte(kh)})
	pk, ok := am.(*gitssh.PublicKeys)
	if err != nil || !ok || pk.User != "deploy" {
		t.Fatalf("authMethod(ssh) = %#v, %v", am, err)
	}
	if len(pk.HostKeyAlgorithms) == 0 || pk.HostKeyAlgorithms[0] != ssh.KeyAlgoED25519 {
		t.Fatalf("authMethod(ssh).HostKeyAlgorithms = %v, want [%s]", pk.HostKeyAlgorithms, ssh.KeyAlgoED25519)
	}
	// The host key callback is strict: another key is refused.
	_, otherKey := testIdentity(t)
	addr := &fakeAddr{"127.0.0.1:2222"}
	if err := pk.HostKeyCallback("127.0.0.1:2222", addr, hostKey); err != nil {
		t.Fatalf("HostKeyCallback(known key) = %v", err)
	}
	if err := pk.HostKeyCallback("127.0.0.1:2222", addr, otherKey); err == nil || !isAuthError(err) {
		t.Fatalf("HostKeyCallback(other key) = %v, want a host key error classified as authentication", err)
	}
	if err := pk.HostKeyCallback("127.0.0.1:2223", &fakeAddr{"127.0.0.1:2223"}, hostKey); err == nil || !isAuthError(err) {
		t.Fatalf("HostKeyCallback(unknown host) = %v, want a host key error classified as authentication", err)
	}
	_, err = authMethod("git@github.com:o/r.git", nil)
	if !errors.Is(err, ErrAuthentication) {
		t.Fatalf("authMethod(scp-like, nil) = %v, want ErrAuthentication", err)
	}
}

type fakeAddr struct{ s string }

func (a *fakeAddr) Network() string { return "tcp" }
func (a *fakeAddr) String() string  { return a.s }

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:s3cret@host/r.git": "https://user:***@host/r.git",
		"https://host/r.git":             "https://host/r.git",
		"git@github.com:o/r.git":         "git@github.com:o/r.git",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
	if got := redactMessage(`Get "https://u:s3cret@h/x": EOF`, "https://u:s3cret@h/x"); strings.Contains(got, "s3cret") {
		t.Errorf("redactMessage() = %q, leaks the password", got)
	}
}
