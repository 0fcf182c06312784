package gitsource

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/skeema/knownhosts"
	cryptossh "golang.org/x/crypto/ssh"
	corev1 "k8s.io/api/core/v1"
)

// The keys of a Git credentials Secret.
const (
	// SecretKeyUsername is the HTTPS basic auth user name.
	SecretKeyUsername = "username"
	// SecretKeyPassword is the HTTPS basic auth password (or token), or the passphrase of
	// the SSH identity when identity is set.
	SecretKeyPassword = "password"
	// SecretKeyBearerToken is an HTTPS bearer token.
	SecretKeyBearerToken = "bearerToken"
	// SecretKeyToken is accepted in place of bearerToken for Git, and is the API token of
	// a forge credentials Secret and the HMAC secret of a webhook Secret.
	SecretKeyToken = "token"
	// SecretKeyIdentity is an SSH private key (PEM or OpenSSH format).
	SecretKeyIdentity = "identity"
	// SecretKeyKnownHosts is the known_hosts content for SSH; host keys are checked
	// strictly against it.
	SecretKeyKnownHosts = "known_hosts"
)

// Auth holds Git credentials. For HTTPS, BearerToken wins over Username/Password. For
// SSH, SSHIdentity is the private key (Password, if set, is its passphrase) and
// SSHKnownHosts the known_hosts content the server's host key must match.
type Auth struct {
	Username, Password, BearerToken string
	SSHIdentity, SSHKnownHosts      []byte
}

// String never prints secret material.
func (a *Auth) String() string {
	if a == nil {
		return "<no auth>"
	}
	var parts []string
	if a.Username != "" {
		parts = append(parts, "username="+a.Username)
	}
	if a.Password != "" {
		parts = append(parts, "password=***")
	}
	if a.BearerToken != "" {
		parts = append(parts, "bearerToken=***")
	}
	if len(a.SSHIdentity) > 0 {
		parts = append(parts, "identity=***")
	}
	if len(a.SSHKnownHosts) > 0 {
		parts = append(parts, "known_hosts=set")
	}
	return "Auth{" + strings.Join(parts, ", ") + "}"
}

// GoString is String, so %#v does not print secrets either.
func (a *Auth) GoString() string { return a.String() }

// AuthFromSecret reads Git credentials from a Secret's data (stringData is not read: the API
// server folds it into data). Accepted keys: username and password (HTTPS basic auth),
// bearerToken or token (HTTPS bearer token), identity and known_hosts (SSH; password is
// then the key's passphrase). A Secret holding none of these, or only half of a pair,
// returns an error wrapping ErrAuthentication that names the missing key and never a value.
func AuthFromSecret(s *corev1.Secret) (*Auth, error) {
	if s == nil {
		return nil, fmt.Errorf("credentials secret is nil: %w", ErrAuthentication)
	}
	name := s.Namespace + "/" + s.Name
	get := func(k string) []byte {
		if v, ok := s.Data[k]; ok && len(v) > 0 {
			return v
		}
		if v, ok := s.StringData[k]; ok && v != "" {
			return []byte(v)
		}
		return nil
	}
	a := &Auth{
		Username:      string(get(SecretKeyUsername)),
		Password:      string(get(SecretKeyPassword)),
		BearerToken:   string(get(SecretKeyBearerToken)),
		SSHIdentity:   get(SecretKeyIdentity),
		SSHKnownHosts: get(SecretKeyKnownHosts),
	}
	if a.BearerToken == "" {
		a.BearerToken = string(get(SecretKeyToken))
	}
	missing := func(key, with string) error {
		return fmt.Errorf("credentials secret %s: key %q is missing or empty (required with %q): %w",
			name, key, with, ErrAuthentication)
	}
	switch {
	case len(a.SSHIdentity) > 0 && len(a.SSHKnownHosts) == 0:
		return nil, missing(SecretKeyKnownHosts, SecretKeyIdentity)
	case len(a.SSHKnownHosts) > 0 && len(a.SSHIdentity) == 0:
		return nil, missing(SecretKeyIdentity, SecretKeyKnownHosts)
	case len(a.SSHIdentity) > 0:
		if _, err := parseIdentity(a.SSHIdentity, a.Password); err != nil {
			return nil, fmt.Errorf("credentials secret %s: key %q: %w: %w", name, SecretKeyIdentity, err, ErrAuthentication)
		}
		return a, nil
	case a.BearerToken != "":
		return a, nil
	case a.Username != "" && a.Password == "":
		return nil, missing(SecretKeyPassword, SecretKeyUsername)
	case a.Password != "" && a.Username == "":
		return nil, missing(SecretKeyUsername, SecretKeyPassword)
	case a.Username != "":
		return a, nil
	}
	return nil, fmt.Errorf("credentials secret %s: none of the keys %q/%q, %q, %q or %q/%q is set: %w",
		name, SecretKeyUsername, SecretKeyPassword, SecretKeyBearerToken, SecretKeyToken,
		SecretKeyIdentity, SecretKeyKnownHosts, ErrAuthentication)
}

// TokenFromSecret returns the value of the key `token` of a forge credentials Secret or a
// webhook Secret; the error names the missing key, never a value.
func TokenFromSecret(s *corev1.Secret) (string, error) {
	if s == nil {
		return "", fmt.Errorf("token secret is nil: %w", ErrAuthentication)
	}
	if v := s.Data[SecretKeyToken]; len(v) > 0 {
		return strings.TrimSpace(string(v)), nil
	}
	if v := s.StringData[SecretKeyToken]; v != "" {
		return strings.TrimSpace(v), nil
	}
	return "", fmt.Errorf("secret %s/%s: key %q is missing or empty: %w", s.Namespace, s.Name, SecretKeyToken, ErrAuthentication)
}

func parseIdentity(pem []byte, passphrase string) (cryptossh.Signer, error) {
	if passphrase != "" {
		if s, err := cryptossh.ParsePrivateKeyWithPassphrase(pem, []byte(passphrase)); err == nil {
			return s, nil
		}
	}
	s, err := cryptossh.ParsePrivateKey(pem)
	if err != nil {
		// The parser's message does not contain key material.
		return nil, fmt.Errorf("cannot parse the private key: %w", err)
	}
	return s, nil
}

// IsSSHURL reports whether a Git URL uses SSH (ssh:// or scp-like user@host:path).
func IsSSHURL(rawURL string) bool {
	if strings.HasPrefix(rawURL, "ssh://") || strings.HasPrefix(rawURL, "git+ssh://") {
		return true
	}
	if strings.Contains(rawURL, "://") {
		return false
	}
	at := strings.Index(rawURL, "@")
	colon := strings.Index(rawURL, ":")
	return at > 0 && colon > at
}

// authMethod turns Auth into go-git's transport auth for rawURL. A nil Auth means none
// (anonymous HTTPS, or SSH failing for lack of a key).
func authMethod(rawURL string, a *Auth) (transport.AuthMethod, error) {
	if IsSSHURL(rawURL) {
		if a == nil || len(a.SSHIdentity) == 0 {
			return nil, fmt.Errorf("an SSH URL needs the keys %q and %q in the credentials secret: %w",
				SecretKeyIdentity, SecretKeyKnownHosts, ErrAuthentication)
		}
		return sshAuth(rawURL, a)
	}
	if a == nil {
		return nil, nil
	}
	if strings.HasPrefix(rawURL, "file://") || !strings.Contains(rawURL, "://") {
		return nil, nil // local repositories take no credentials
	}
	if a.BearerToken != "" {
		return &githttp.TokenAuth{Token: a.BearerToken}, nil
	}
	if a.Username != "" || a.Password != "" {
		return &githttp.BasicAuth{Username: a.Username, Password: a.Password}, nil
	}
	return nil, nil
}

func sshAuth(rawURL string, a *Auth) (transport.AuthMethod, error) {
	if len(a.SSHKnownHosts) == 0 {
		return nil, fmt.Errorf("key %q is required for SSH (host keys are checked strictly): %w", SecretKeyKnownHosts, ErrAuthentication)
	}
	signer, err := parseIdentity(a.SSHIdentity, a.Password)
	if err != nil {
		return nil, fmt.Errorf("key %q: %w: %w", SecretKeyIdentity, err, ErrAuthentication)
	}
	user, host := sshUserHost(rawURL)
	db, err := knownHostsDB(a.SSHKnownHosts)
	if err != nil {
		return nil, fmt.Errorf("key %q: %w: %w", SecretKeyKnownHosts, err, ErrAuthentication)
	}
	pk := &gitssh.PublicKeys{User: user, Signer: signer}
	pk.HostKeyCallback = db.HostKeyCallback()
	pk.HostKeyAlgorithms = db.HostKeyAlgorithms(host)
	return pk, nil
}

// knownHostsDB parses known_hosts content. skeema/knownhosts reads files only, so the
// content goes through a private temporary file that is removed at once.
func knownHostsDB(content []byte) (*knownhosts.HostKeyDB, error) {
	f, err := os.CreateTemp("", "gitfleet-known-hosts-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(content); err != nil {
		_ = f.Close() // the write's error is the one to report
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	db, err := knownhosts.NewDB(f.Name())
	if err != nil {
		return nil, fmt.Errorf("cannot parse known_hosts: %s", strings.ReplaceAll(err.Error(), f.Name(), "known_hosts"))
	}
	return db, nil
}

// sshUserHost returns the user name (default git) and host:port (default port 22).
func sshUserHost(rawURL string) (user, hostPort string) {
	user = "git"
	if strings.Contains(rawURL, "://") {
		u, err := url.Parse(strings.TrimPrefix(rawURL, "git+"))
		if err == nil {
			if u.User != nil && u.User.Username() != "" {
				user = u.User.Username()
			}
			port := u.Port()
			if port == "" {
				port = "22"
			}
			return user, net.JoinHostPort(u.Hostname(), port)
		}
		return user, rawURL
	}
	// scp-like: user@host:path
	at := strings.Index(rawURL, "@")
	rest := rawURL[at+1:]
	if at > 0 {
		user = rawURL[:at]
	}
	host := rest[:strings.Index(rest, ":")]
	return user, net.JoinHostPort(host, "22")
}
