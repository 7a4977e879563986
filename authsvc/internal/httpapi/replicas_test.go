package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/oauthtest"
)

// TestReplicasAgree runs three authsvc replicas on one Redis behind a front that sends
// each request to the next replica, so that every step of a flow (authorize, the
// GitHub callback, consent, token, refresh) lands on a different replica than the one
// before: they agree on the signing key (one key, created once), on the browser
// session and the consent, on refresh rotation and reuse detection, on the
// registration rate limit (one budget, not one per replica), and a key rotated on one
// replica is published by all at once.
func TestReplicasAgree(t *testing.T) {
	const limit = 4
	env := oauthtest.New(t, &oauthtest.Options{Replicas: 3, RegistrationRateLimit: limit})
	ctx := context.Background()

	jwks := func(t *testing.T, base string) []string {
		t.Helper()
		resp, err := http.Get(base + "/.well-known/jwks.json")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var set struct {
			Keys []struct {
				Kid string `json:"kid"`
			} `json:"keys"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
			t.Fatal(err)
		}
		var kids []string
		for _, k := range set.Keys {
			kids = append(kids, k.Kid)
		}
		return kids
	}
	first := jwks(t, env.ReplicaURLs[0])
	if len(first) != 1 {
		t.Fatalf("JWKS of replica 0 has %d keys, want the one key all replicas share", len(first))
	}
	for i, u := range env.ReplicaURLs[1:] {
		if got := jwks(t, u); !reflect.DeepEqual(got, first) {
			t.Fatalf("replica %d publishes %v, replica 0 %v", i+1, got, first)
		}
	}

	// A whole flow, each step on the next replica; the access token any replica
	// signed verifies with every replica's keys.
	r := newRefresher(t, env)
	spent := r.rt.Load().(string)
	for i := range 6 {
		if got := r.step(); got != "ok" {
			t.Fatalf("refresh %d: %s", i, got)
		}
	}
	if got := r.step(); got != "ok" {
		t.Fatalf("refresh: %s", got)
	}

	// Consent given on one replica is known to the others: the same browser's next
	// authorization comes straight back with a code.
	b := env.NewBrowser()
	cfg := env.OAuth2(r.client)
	ver := oauth2.GenerateVerifier()
	_ = b.Code(t, cfg.AuthCodeURL("s1", oauth2.S256ChallengeOption(ver)), "s1")
	p := b.Get(t, cfg.AuthCodeURL("s2", oauth2.S256ChallengeOption(ver)))
	if p.Location == nil || p.Location.Query().Get("code") == "" {
		t.Errorf("second authorization of an approved client showed %d %.200s, want a redirect with a code", p.Status, p.Body)
	}

	// Reuse of a spent refresh token, detected wherever it lands, revokes the family
	// for every replica: the client's newest token stops working too.
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {spent}, "client_id": {r.client.ID}}
	if code, body, _ := env.PostForm(t, "/token", form, "", ""); code != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("reuse of a spent refresh token: %d %v, want 400 invalid_grant", code, body)
	}
	for i := range 3 {
		if got := r.step(); !strings.Contains(got, "invalid_grant") {
			t.Errorf("newest refresh token after the reuse, try %d: %s, want invalid_grant", i, got)
		}
	}

	// One registration budget for all replicas: newRefresher registered once.
	created := 1
	for range 3 * limit {
		resp, err := http.Post(env.URL+"/register", "application/json",
			strings.NewReader(`{"redirect_uris":["http://127.0.0.1:8976/callback"],"token_endpoint_auth_method":"none"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			break
		}
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("register: %d", resp.StatusCode)
		}
		created++
	}
	if created != limit {
		t.Errorf("%d registrations accepted across three replicas, want the limit %d", created, limit)
	}

	// A key rotated on replica 1 is in every replica's JWKS at once.
	k, err := env.ReplicaKeys[1].Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range env.ReplicaURLs {
		kids := jwks(t, u)
		if !strings.Contains(strings.Join(kids, " "), k.ID) || len(kids) != 2 {
			t.Errorf("replica %d publishes %v after the rotation, want the old and the new key %s", i, kids, k.ID)
		}
	}
}
