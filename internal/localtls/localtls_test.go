package localtls

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMake: the server certificate passes a real TLS handshake for every host it was
// made for (and fails for another) with a client that trusts only the CA; a second run
// keeps the CA (users trust it once) and makes a new server certificate; keys are 0600.
func TestMake(t *testing.T) {
	dir := t.TempDir()
	hosts := []string{"auth.localhost", "memory.localhost", "127.0.0.1"}
	first, err := Make(Options{Dir: dir, Hosts: hosts, MountedAt: "/etc/traefik/dynamic/local-tls/"})
	if err != nil {
		t.Fatal(err)
	}
	if !first.NewCA {
		t.Error("first run did not report a new CA")
	}
	caPEM, _ := os.ReadFile(filepath.Join(dir, CACert))
	serverPEM, _ := os.ReadFile(filepath.Join(dir, TraefikDir, ServerCert))

	second, err := Make(Options{Dir: dir, Hosts: hosts[:2], MountedAt: "/m"})
	if err != nil {
		t.Fatal(err)
	}
	caPEM2, _ := os.ReadFile(filepath.Join(dir, CACert))
	serverPEM2, _ := os.ReadFile(filepath.Join(dir, TraefikDir, ServerCert))
	if second.NewCA || string(caPEM) != string(caPEM2) {
		t.Error("second run replaced the CA")
	}
	if string(serverPEM) == string(serverPEM2) {
		t.Error("second run kept the old server certificate")
	}
	for _, f := range []string{CAKey, filepath.Join(TraefikDir, ServerKey)} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want mode 0600", f, fi.Mode(), err)
		}
	}
	conf, _ := os.ReadFile(filepath.Join(dir, TraefikDir, Config))
	if !strings.Contains(string(conf), "certFile: /m/gateway.crt") || !strings.Contains(string(conf), "keyFile: /m/gateway.key") {
		t.Errorf("Traefik configuration:\n%s", conf)
	}

	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, TraefikDir, ServerCert), filepath.Join(dir, TraefikDir, ServerKey))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _ = c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("CA is not PEM")
	}
	dial := func(name string) error {
		c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: name})
		if err == nil {
			c.Close()
		}
		return err
	}
	for _, h := range hosts[:2] {
		if err := dial(h); err != nil {
			t.Errorf("handshake as %s: %v", h, err)
		}
	}
	for _, h := range []string{"other.localhost", "127.0.0.1"} {
		if err := dial(h); err == nil {
			t.Errorf("handshake as %s succeeded; the certificate was not made for it", h)
		}
	}
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{ServerName: hosts[0], RootCAs: x509.NewCertPool()})
	if err == nil {
		c.Close()
		t.Error("a client that does not trust the CA completed the handshake")
	}
}

func TestMakeRefusesBadInput(t *testing.T) {
	if _, err := Make(Options{Dir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "no host names") {
		t.Errorf("no hosts: %v", err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, CACert), []byte("junk"), 0o644)
	os.WriteFile(filepath.Join(dir, CAKey), []byte("junk"), 0o600)
	if _, err := Make(Options{Dir: dir, Hosts: []string{"a.localhost"}}); err == nil || !strings.Contains(err.Error(), "remove both") {
		t.Errorf("corrupt CA: %v", err)
	}
}
