// Package localtls makes a local certificate authority and a server certificate signed
// by it, for running the compose stack with HTTPS on a machine without a public domain
// (`just local-tls`). The CA is made once and kept, so that a user trusts it once; the
// server certificate is made again on every run, for the host names given.
package localtls

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Files under the directory Make writes to. TraefikDir is what the Traefik container
// mounts: the server certificate, its key and the file-provider configuration naming
// them. The CA's key stays outside it.
const (
	CACert     = "ca.crt"
	CAKey      = "ca.key"
	TraefikDir = "traefik"
	ServerCert = "gateway.crt"
	ServerKey  = "gateway.key"
	Config     = "certificates.yml"
)

// Lifetimes: the CA outlives many server certificates; a server certificate stays
// within the 398 days browsers accept.
const (
	caLifetime     = 10 * 365 * 24 * time.Hour
	serverLifetime = 397 * 24 * time.Hour
)

// Options say what Make writes.
type Options struct {
	Dir          string   // output directory (created, 0700)
	Hosts        []string // DNS names or IP addresses the server certificate covers
	MountedAt    string   // where Traefik sees Dir/traefik (for the configuration file)
	Now          func() time.Time
	Organization string
}

// Result says what Make did.
type Result struct {
	CACertPath string
	NewCA      bool
	Hosts      []string
	NotAfter   time.Time
}

// Make writes Dir/ca.crt and Dir/ca.key unless both exist (then they are reused), and
// Dir/traefik/{gateway.crt,gateway.key,certificates.yml}: a server certificate for
// opts.Hosts signed by the CA, and a Traefik dynamic configuration that serves it.
func Make(opts Options) (Result, error) {
	if len(opts.Hosts) == 0 {
		return Result{}, errors.New("localtls: no host names")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Organization == "" {
		opts.Organization = "mcp-oauth-gateway local CA"
	}
	if err := os.MkdirAll(filepath.Join(opts.Dir, TraefikDir), 0o700); err != nil {
		return Result{}, err
	}
	res := Result{CACertPath: filepath.Join(opts.Dir, CACert)}
	ca, caKey, err := loadCA(opts.Dir)
	if errors.Is(err, os.ErrNotExist) {
		ca, caKey, err = newCA(opts)
		if err == nil {
			err = writePair(opts.Dir, CACert, CAKey, ca.Raw, caKey)
		}
		res.NewCA = true
	}
	if err != nil {
		return Result{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Result{}, err
	}
	now := opts.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{Organization: []string{opts.Organization}, CommonName: opts.Hosts[0]},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(serverLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range opts.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, strings.ToLower(h))
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return Result{}, fmt.Errorf("localtls: server certificate: %w", err)
	}
	tdir := filepath.Join(opts.Dir, TraefikDir)
	if err := writePair(tdir, ServerCert, ServerKey, der, key); err != nil {
		return Result{}, err
	}
	mounted := strings.TrimSuffix(opts.MountedAt, "/")
	conf := fmt.Sprintf("# Written by `just local-tls`: the local CA's server certificate for %s.\n"+
		"tls:\n  certificates:\n    - certFile: %s/%s\n      keyFile: %s/%s\n",
		strings.Join(opts.Hosts, ", "), mounted, ServerCert, mounted, ServerKey)
	if err := os.WriteFile(filepath.Join(tdir, Config), []byte(conf), 0o600); err != nil {
		return Result{}, err
	}
	res.Hosts, res.NotAfter = opts.Hosts, tmpl.NotAfter
	return res, nil
}

func newCA(opts Options) (*x509.Certificate, crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := opts.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{Organization: []string{opts.Organization}, CommonName: opts.Organization},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("localtls: CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

// loadCA reads the kept CA; os.ErrNotExist when there is none yet.
func loadCA(dir string) (*x509.Certificate, crypto.Signer, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, CACert))
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, CAKey))
	if err != nil {
		return nil, nil, err
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, nil, fmt.Errorf("localtls: %s or %s is not PEM: remove both to make a new CA", CACert, CAKey)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("localtls: %s: %w", CACert, err)
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("localtls: %s: %w", CAKey, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("localtls: %s holds no signing key", CAKey)
	}
	return cert, signer, nil
}

func writePair(dir, certName, keyName string, der []byte, key crypto.Signer) error {
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, keyName), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, certName), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return n
}
