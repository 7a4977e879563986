package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"golang.org/x/oauth2"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/oauthtest"
	"github.com/mcp-oauth-gateway/gateway/internal/githubstub"
)

// BenchmarkFullFlow measures whole authorization code flows against real Redis over
// loopback HTTP: /authorize → stand-in GitHub login → /callback → consent page →
// POST /consent → code → POST /token, each iteration a new browser and a new user
// (so every flow logs in and consents).
func BenchmarkFullFlow(b *testing.B) { fullFlows(b, oauthtest.New(b, nil)) }

func fullFlows(b *testing.B, env *oauthtest.Env) {
	c := env.Register(b, "client_secret_basic", "http://127.0.0.1:8976/callback", nil)
	cfg := env.OAuth2(c)
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		env.Stub.LoginAs(githubstub.User{ID: int64(100000 + i), Login: "user" + string(rune('a'+i%26))})
		ver := oauth2.GenerateVerifier()
		code := env.NewBrowser().Code(b, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(ver)), "s")
		if _, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(ver)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "flows/s")
}

// BenchmarkFullFlowReplicas is BenchmarkFullFlow through a front that sends each
// request to the next of 1 or 2 authsvc replicas on the one Redis (see
// TestReplicasAgree): what spreading a flow's steps over replicas costs.
func BenchmarkFullFlowReplicas(b *testing.B) {
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("replicas=%d", n), func(b *testing.B) {
			fullFlows(b, oauthtest.New(b, &oauthtest.Options{Replicas: n}))
		})
	}
}

// BenchmarkRefresh measures refresh-token rotations (each a new JWT and a new refresh
// token, the old one consumed atomically) with 8 concurrent clients per CPU.
func BenchmarkRefresh(b *testing.B) {
	env := oauthtest.New(b, nil)
	c := env.Register(b, "none", "http://127.0.0.1:8976/callback", nil)
	cfg := env.OAuth2(c)
	b.SetParallelism(8)
	// Each goroutine owns one token family and rotates it.
	tokens := make(chan string, 256)
	for range 64 {
		ver := oauth2.GenerateVerifier()
		code := env.NewBrowser().Code(b, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(ver)), "s")
		tok, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(ver))
		if err != nil {
			b.Fatal(err)
		}
		tokens <- tok.RefreshToken
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rt := <-tokens
		for pb.Next() {
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {c.ID}}
			resp, err := client.PostForm(env.URL+"/token", form)
			if err != nil {
				b.Error(err)
				return
			}
			var out struct {
				RefreshToken string `json:"refresh_token"`
			}
			err = decodeJSON(resp, &out)
			if err != nil || out.RefreshToken == "" {
				b.Errorf("refresh: status %d %v", resp.StatusCode, err)
				return
			}
			rt = out.RefreshToken
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "refreshes/s")
}
