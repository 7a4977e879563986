package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mcp-oauth-gateway/gateway/tests/internal/mcpservers"
	"github.com/mcp-oauth-gateway/gateway/tests/internal/proxytest"
)

// TestConformanceThroughGateway runs the official conformance suite through the whole
// gateway: Traefik with the mcpauth plugin in front of the bridge wrapping the Go SDK
// fixture, with a real access token from the OAuth flow. The suite has no header
// option, so a small proxy in front adds the bearer. Both the 2025 suite and the
// 2026-07-28 requirements pass as they do against the bridge alone.
func TestConformanceThroughGateway(t *testing.T) {
	ctx := testContext(t)
	mcpURL := stack.MCPURL(conformanceServer)
	tok := userToken(t, ctx, alice, mcpURL)
	entry := withBearer(t, mcpURL, tok.Token.AccessToken)

	t.Run("2025", func(t *testing.T) {
		results := mcpservers.RunConformance(t, entry, "--suite", "all")
		for _, want := range mcpservers.ExpectedPassing(t) {
			if failures, ran := results[want]; !ran || len(failures) > 0 {
				t.Errorf("scenario %s through the gateway: ran %v, failures %v", want, ran, failures)
			}
		}
	})
	t.Run("2026-07-28", func(t *testing.T) {
		results := mcpservers.RunConformance(t, entry, "--requirements", "2026-07-28")
		reference := mcpservers.RunConformance(t, mcpservers.StartGoEverythingHTTP(t), "--requirements", "2026-07-28")
		for name, failures := range reference {
			if len(failures) > 0 {
				continue
			}
			if got, ran := results[name]; !ran || len(got) > 0 {
				t.Errorf("scenario %s passes on the fixture itself but not through the gateway: %s", name, strings.Join(got, "; "))
			}
		}
	})
}

// withBearer starts a loopback proxy to mcpURL that adds the access token to every
// request, and returns its MCP URL. A request whose Host is not loopback (the suite's
// DNS-rebinding probe) keeps it, so the gateway sees what the suite sent. Bodies go
// from memory (proxytest.BufferBody): a streamed one could get an event stream cut by
// this proxy, and the suite would blame the gateway.
func withBearer(t *testing.T, mcpURL, token string) string {
	t.Helper()
	target, err := url.Parse(mcpURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			proxytest.BufferBody(r)
			r.SetURL(target)
			r.Out.URL.Path = r.In.URL.Path
			if host, _, _ := net.SplitHostPort(r.In.Host); host != "127.0.0.1" && host != "localhost" {
				r.Out.Host = r.In.Host
			}
			r.Out.Header.Set("Authorization", "Bearer "+token)
		},
		FlushInterval: -1,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: proxy}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String() + target.Path
}

// TestAuthorizationConformance runs the conformance suite's authorization-server
// scenarios against authsvc (the stack's issuer): the metadata document, and the
// authorization code grant with a registered public client, the test browser playing
// the human (GitHub stand-in login and our consent page). Every check must pass, with
// no warning.
func TestAuthorizationConformance(t *testing.T) {
	ctx := testContext(t)
	bin, path := mcpservers.Conformance(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	clientID := registerPublicClient(t, ctx, fmt.Sprintf("http://127.0.0.1:%d/callback", port))
	out := t.TempDir()
	cmd := exec.CommandContext(ctx, bin, "authorization", "--url", stack.Issuer, "--client-id", clientID,
		"--resource", stack.MCPURL("everything"), "-p", strconv.Itoa(port), "-o", out)
	cmd.Env = append(os.Environ(), "PATH="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var printed strings.Builder
	browsed := make(chan error, 1)
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		printed.WriteString(line + "\n")
		if strings.HasPrefix(line, stack.Issuer+"/authorize?") {
			github.LoginAs(alice)
			go func() { browsed <- newBrowser(t).Follow(ctx, line) }()
		}
	}
	_ = cmd.Wait()
	select {
	case err := <-browsed:
		if err != nil {
			t.Fatalf("the browser could not complete the authorization: %v\n%s", err, printed.String())
		}
	default:
		t.Fatalf("the suite never asked for a browser:\n%s", printed.String())
	}
	checks := 0
	err = filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.Name() != "checks.json" {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var list []struct {
			ID, Status, ErrorMessage string
		}
		if err := json.Unmarshal(data, &list); err != nil {
			return err
		}
		for _, c := range list {
			checks++
			if c.Status != "SUCCESS" && c.Status != "INFO" {
				t.Errorf("%s: %s %s", filepath.Base(filepath.Dir(p)), c.ID, c.Status+" "+c.ErrorMessage)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checks < 3 {
		t.Fatalf("only %d checks ran:\n%s", checks, printed.String())
	}
	t.Logf("%d authorization checks pass", checks)
}
