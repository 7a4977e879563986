package docker

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/oauth2"
)

// TestStack is one user's day with the stack, in order: each step builds on the state
// the previous ones left (a registered client, tokens, a memory graph).
func TestStack(t *testing.T) {
	s := up(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	handlers := map[string]*auth.AuthorizationCodeHandler{}
	entity := fmt.Sprintf("docker-test-%d", time.Now().UnixNano())
	var refresh *oauth2.Token // memory's token, refreshed along the way

	ok := t.Run("OAuth flow and tools on every bridge", func(t *testing.T) {
		for _, svc := range bridges {
			handlers[svc] = s.oauthClient(t)
			cs := s.connect(t, ctx, svc, handlers[svc])
			if tools := listTools(t, ctx, cs); len(tools) == 0 {
				t.Errorf("%s: no tools", svc)
			}
		}
		cs := s.connect(t, ctx, "memory", handlers["memory"])
		callTool(t, ctx, cs, "create_entities", map[string]any{"entities": []map[string]any{
			{"name": entity, "entityType": "test", "observations": []string{"made through Docker"}}}})
		if g := callTool(t, ctx, cs, "read_graph", map[string]any{}); !strings.Contains(g, entity) {
			t.Errorf("read_graph does not show %s: %.300s", entity, g)
		}
		refresh = token(t, handlers["memory"])
	})
	if !ok {
		t.Fatal("no client got through the gateway: the later steps need one")
	}
	memTok := refresh.AccessToken

	t.Run("2026-07-28 request through Traefik", func(t *testing.T) {
		body := `{"jsonrpc":"2.0","id":7,"method":"server/discover","params":{"_meta":{` +
			`"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`
		resp, got := s.post(t, ctx, s.mcpURL("memory"), body, http.Header{
			"Authorization": {"Bearer " + memTok}, "Mcp-Protocol-Version": {"2026-07-28"}, "Mcp-Method": {"server/discover"}})
		if resp.StatusCode != 200 || !strings.Contains(got, `"id":7`) || !strings.Contains(got, "2026-07-28") {
			t.Errorf("server/discover: %d %.400s", resp.StatusCode, got)
		}
	})

	t.Run("refusals at the edge", func(t *testing.T) {
		resp, body := s.post(t, ctx, s.mcpURL("memory"), initializeBody, nil)
		if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "resource_metadata=") {
			t.Errorf("no token: %d %q %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
		}
		// A token issued for memory is refused by everything's own mcpauth instance.
		resp, body = s.post(t, ctx, s.mcpURL("everything"), initializeBody, http.Header{"Authorization": {"Bearer " + memTok}})
		if resp.StatusCode != 401 {
			t.Errorf("memory's token on everything: %d %s", resp.StatusCode, body)
		}
		// authsvc's internal endpoints are not routed from the internet.
		for _, p := range []string{"/verify", "/internal/revocations"} {
			if code, body := s.get(t, ctx, "https://auth."+domain+p); code != 404 {
				t.Errorf("public %s: %d %.200s", p, code, body)
			}
		}
	})

	t.Run("spoofed identity headers never reach a bridge", func(t *testing.T) {
		sub := claim(t, memTok, "sub")
		hdr := http.Header{"Authorization": {"Bearer " + memTok}}
		for _, name := range []string{"X-User-Id", "X_User_Id", "X.User.Id", "x-user-id"} {
			hdr[name] = []string{"mallory"}
		}
		hdr["X.User.Login"] = []string{"mallory"}
		resp, body := s.post(t, ctx, s.mcpURL("memory"), initializeBody, hdr)
		if resp.StatusCode != 200 || resp.Header.Get("Mcp-Session-Id") == "" {
			t.Fatalf("initialize with spoofed headers: %d %.300s", resp.StatusCode, body)
		}
		// The bridge logs the user of every session it creates (the identity Traefik's
		// plugin injected): the token's subject, never the spoofed one.
		eventually(t, 20*time.Second, "the bridge logs the new session's user", func() (bool, string) {
			logs, _ := s.compose(ctx, "logs", "--no-log-prefix", "memory")
			if strings.Contains(logs, "mallory") {
				t.Fatalf("the bridge saw the spoofed identity:\n%s", tail(logs, 20))
			}
			return strings.Contains(logs, `"user":"`+sub+`"`), tail(logs, 5)
		})
	})

	t.Run("a bridge is reachable only through Traefik", func(t *testing.T) {
		// From inside another bridge's container (an MCP server gone rogue, or one that
		// fetches URLs for its users), neither another bridge nor authsvc nor Redis has a
		// name: each bridge shares its network with Traefik alone. Traefik's name does
		// resolve there, which shows the lookups work.
		names := []string{"traefik", "memory", "filesystem", "auth", "redis"}
		out, err := s.compose(ctx, "exec", "-T", "everything", "node", "-e", lookupScript(names))
		if err != nil {
			t.Fatalf("lookups in everything: %v %s", err, out)
		}
		for _, name := range names {
			got := regexp.MustCompile(`(?m)^` + name + ` (\S+)`).FindStringSubmatch(out)
			switch {
			case got == nil:
				t.Errorf("no lookup result for %s: %s", name, out)
			case name == "traefik" && (got[1] == "ENOTFOUND" || got[1] == "EAI_AGAIN"):
				t.Errorf("everything cannot resolve traefik, its one neighbour: %s", got[1])
			case name != "traefik" && got[1] != "ENOTFOUND" && got[1] != "EAI_AGAIN":
				t.Errorf("everything resolves %s to %s; want no such name", name, got[1])
			}
		}
		// By address, a forged identity is refused: the bridge serves only identity the
		// edge signed. (Docker's iptables rules, where the engine has them, also drop
		// traffic between the networks; this engine runs without them, so the packet
		// may well arrive.)
		ip, err := output(ctx, s, "docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", project+"-memory-1")
		if err != nil || strings.TrimSpace(ip) == "" {
			t.Fatalf("memory's address: %v %q", err, ip)
		}
		out, _ = s.compose(ctx, "exec", "-T", "everything", "node", "-e", forgeScript("http://"+strings.TrimSpace(ip)+":3000/mcp"))
		switch {
		case strings.Contains(out, "status 403") && strings.Contains(out, "identity_unverified"):
			t.Logf("forged call by address: refused by the bridge (%s)", strings.TrimSpace(out))
		case strings.Contains(out, "error"):
			t.Logf("forged call by address: no connection (%s)", strings.TrimSpace(out))
		default:
			t.Errorf("a forged identity sent straight to memory's address was served: %s", out)
		}
	})

	t.Run("clients and tokens survive a Redis restart", func(t *testing.T) {
		if out, err := s.compose(ctx, "restart", "redis"); err != nil {
			t.Fatalf("restart redis: %v %s", err, out)
		}
		refresh = refreshToken(t, ctx, s, memTok, refresh)
		cs := s.connect(t, ctx, "memory", handlers["memory"])
		if g := callTool(t, ctx, cs, "read_graph", map[string]any{}); !strings.Contains(g, entity) {
			t.Errorf("after the restart read_graph does not show %s", entity)
		}
	})

	t.Run("Redis down: the public endpoints stay routed", func(t *testing.T) {
		if out, err := s.compose(ctx, "stop", "redis"); err != nil {
			t.Fatalf("stop redis: %v %s", err, out)
		}
		defer func() {
			if out, err := s.compose(ctx, "start", "redis"); err != nil {
				t.Errorf("start redis: %v %s", err, out)
			}
		}()
		// Past three failed healthchecks of the old design (3 × 15 s), authsvc is still
		// healthy, so Traefik keeps its routers: metadata and JWKS answer, what needs
		// Redis says 503 in OAuth JSON, and the edge still validates tokens by itself.
		deadline := time.Now().Add(50 * time.Second)
		for time.Now().Before(deadline) {
			checkRedisDown(t, ctx, s)
			time.Sleep(10 * time.Second)
		}
		checkRedisDown(t, ctx, s)
		if h, _ := output(ctx, s, "docker", "inspect", "-f", "{{.State.Health.Status}}", project+"-auth-1"); strings.TrimSpace(h) != "healthy" {
			t.Errorf("authsvc health with Redis down: %s", h)
		}
		cs := s.connect(t, ctx, "memory", handlers["memory"])
		listTools(t, ctx, cs)
	})

	t.Run("down and up again keeps everything", func(t *testing.T) {
		if out, err := s.just(ctx, "down"); err != nil {
			t.Fatalf("just down: %v %s", err, tail(out, 20))
		}
		t0 := time.Now()
		if out, err := s.just(ctx, append([]string{"up"}, strings.Fields(services)...)...); err != nil {
			t.Fatalf("just up: %v %s", err, tail(out, 40))
		}
		timings["just up after just down (images built)"] = time.Since(t0)
		refresh = refreshToken(t, ctx, s, memTok, refresh)
		cs := s.connect(t, ctx, "memory", handlers["memory"])
		if g := callTool(t, ctx, cs, "read_graph", map[string]any{}); !strings.Contains(g, entity) {
			t.Errorf("after down and up read_graph does not show %s", entity)
		}
		// Recreating Traefik alone keeps the plugin from this checkout (no catalog).
		if out, err := s.just(ctx, "up", "--force-recreate", "traefik"); err != nil {
			t.Fatalf("just up traefik: %v %s", err, tail(out, 20))
		}
		eventually(t, 60*time.Second, "memory routed after Traefik was recreated", func() (bool, string) {
			resp, body := s.post(t, ctx, s.mcpURL("memory"), initializeBody, http.Header{"Authorization": {"Bearer " + refresh.AccessToken}})
			return resp.StatusCode == 200, fmt.Sprintf("%d %.200s", resp.StatusCode, body)
		})
	})

	t.Run("the build context holds only the Go sources", func(t *testing.T) {
		// What the engine receives as context, through the root .dockerignore, as the
		// images' builds see it: a throw-away image that lists it.
		img := os.Getenv("GO_IMAGE")
		if img == "" {
			img = "golang:1.26-bookworm"
		}
		df := "FROM " + img + "\nCOPY . /ctx\nRUN cd /ctx && find . -mindepth 1 -maxdepth 1 | sort && find . -name '*_test.go' | head -3\n"
		cmd := exec.CommandContext(ctx, "docker", "build", "--no-cache", "--network", "none", "-t", project+"-context:check", "-f", "-", ".")
		cmd.Dir, cmd.Env, cmd.Stdin = s.root, append(s.env, "DOCKER_BUILDKIT=0"), strings.NewReader(df)
		out, err := cmd.CombinedOutput()
		defer output(ctx, s, "docker", "rmi", "-f", project+"-context:check")
		if err != nil {
			t.Fatalf("build: %v\n%s", err, out)
		}
		var listed []string
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "./") {
				listed = append(listed, strings.TrimSpace(line))
			}
		}
		want := []string{"./authsvc", "./go.mod", "./go.sum", "./internal", "./mcpbridge"}
		if strings.Join(listed, " ") != strings.Join(want, " ") {
			t.Errorf("the build context holds %v, want only %v (never .env, keys, logs, .git or tests)", listed, want)
		}
	})

	t.Run("local TLS: Traefik never asked Let's Encrypt", func(t *testing.T) {
		logs, _ := s.compose(ctx, "logs", "--no-log-prefix", "traefik")
		for _, line := range strings.Split(logs, "\n") {
			if strings.Contains(line, `"level":"error"`) && strings.Contains(strings.ToLower(line), "acme") {
				t.Errorf("ACME error although the local CA's certificate covers every host: %s", line)
			}
		}
	})
}

// registerBody registers a public client (RFC 7591).
const registerBody = `{"redirect_uris":["http://127.0.0.1:9/cb"],"token_endpoint_auth_method":"none"}`

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"docker-raw","version":"1"}}}`

func checkRedisDown(t *testing.T, ctx context.Context, s *stack) {
	t.Helper()
	auth := "https://auth." + domain
	if code, body := s.get(t, ctx, auth+"/.well-known/oauth-authorization-server"); code != 200 || jsonField(body, "issuer") != auth {
		t.Errorf("metadata with Redis down: %d %.200s", code, body)
	}
	if code, body := s.get(t, ctx, auth+"/.well-known/jwks.json"); code != 200 || !strings.Contains(body, `"kid"`) {
		t.Errorf("JWKS with Redis down: %d %.200s", code, body)
	}
	resp, body := s.post(t, ctx, auth+"/register", registerBody, nil)
	if resp.StatusCode != 503 || jsonField(body, "error") != "temporarily_unavailable" {
		t.Errorf("register with Redis down: %d %.200s", resp.StatusCode, body)
	}
}

// refreshToken spends tok's refresh token at the token endpoint and returns the new
// pair (the refresh token rotates).
func refreshToken(t *testing.T, ctx context.Context, s *stack, access string, tok *oauth2.Token) *oauth2.Token {
	t.Helper()
	conf := &oauth2.Config{ClientID: claim(t, access, "client_id"),
		Endpoint: oauth2.Endpoint{TokenURL: "https://auth." + domain + "/token", AuthStyle: oauth2.AuthStyleInParams}}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, s.client)
	var next *oauth2.Token
	// Redis was just restarted: authsvc may need a moment to reconnect.
	eventually(t, 60*time.Second, "the refresh token is accepted", func() (bool, string) {
		var err error
		next, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil && strings.Contains(err.Error(), "invalid_grant") {
			t.Fatalf("refresh token refused: %v", err)
		}
		return err == nil, fmt.Sprint(err)
	})
	if next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken {
		t.Errorf("the refresh token did not rotate")
	}
	return next
}

func callTool(t *testing.T, ctx context.Context, cs *mcp.ClientSession, name string, args map[string]any) string {
	t.Helper()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	if res.IsError {
		t.Fatalf("%s: tool error: %s", name, b.String())
	}
	return b.String()
}

// claim reads one claim of a JWT without verifying it (the gateway did).
func claim(t *testing.T, jwt, name string) string {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %.40s", jwt)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(m[name])
}

// lookupScript is a node one-liner that resolves each name as the container's programs
// do, all at once, and prints "name address" or "name ERRORCODE" per name.
func lookupScript(names []string) string {
	q, _ := json.Marshal(names)
	return fmt.Sprintf(`const dns=require("dns");Promise.all(%s.map(n=>dns.promises.lookup(n).then(a=>n+" "+a.address,e=>n+" "+e.code)))`+
		`.then(r=>console.log(r.join("\n")))`, q)
}

// forgeScript is a node one-liner that POSTs an initialize with a forged identity to
// target and prints the status and body, or the error code.
func forgeScript(target string) string {
	return fmt.Sprintf(`fetch(%q,{method:"POST",headers:{"X-User-Id":"forged","X-User-Login":"mallory","Content-Type":"application/json",`+
		`"Accept":"application/json, text/event-stream"},body:%q,signal:AbortSignal.timeout(10000)})`+
		`.then(async r=>console.log("status",r.status,await r.text())).catch(e=>console.log("error",(e.cause&&e.cause.code)||e.name))`, target, initializeBody)
}
