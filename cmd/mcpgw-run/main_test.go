package main

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

func TestGitHubConfig(t *testing.T) {
	const issuer = "http://localhost:8080"
	t.Run("real GitHub", func(t *testing.T) {
		env := map[string]string{"GITHUB_CLIENT_ID": "id", "GITHUB_CLIENT_SECRET": "secret", "ALLOWED_GITHUB_USERS": "octocat"}
		var out bytes.Buffer
		gh, allowed, closeFn, err := githubConfig(func(k string) string { return env[k] }, issuer, &out)
		if err != nil {
			t.Fatal(err)
		}
		defer closeFn()
		if gh.URL != "https://github.com" || gh.APIURL != "https://api.github.com" || gh.ClientID != "id" || allowed != "octocat" {
			t.Errorf("config = %+v allowed %q", gh, allowed)
		}
		if !strings.Contains(out.String(), issuer+"/callback") || strings.Contains(out.String(), "secret") {
			t.Errorf("output should name the callback URL and never the secret:\n%s", out.String())
		}
	})
	t.Run("GitHub Enterprise", func(t *testing.T) {
		env := map[string]string{"GITHUB_CLIENT_ID": "id", "GITHUB_CLIENT_SECRET": "s", "ALLOWED_GITHUB_USERS": "*",
			"GITHUB_URL": "https://ghe.example.com", "GITHUB_API_URL": "https://ghe.example.com/api/v3"}
		gh, _, closeFn, err := githubConfig(func(k string) string { return env[k] }, issuer, &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		defer closeFn()
		if gh.URL != "https://ghe.example.com" || gh.APIURL != "https://ghe.example.com/api/v3" {
			t.Errorf("config = %+v", gh)
		}
	})
	for name, env := range map[string]map[string]string{
		"id without secret": {"GITHUB_CLIENT_ID": "id"},
		"secret without id": {"GITHUB_CLIENT_SECRET": "s"},
		"no allowed users":  {"GITHUB_CLIENT_ID": "id", "GITHUB_CLIENT_SECRET": "s"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, _, err := githubConfig(func(k string) string { return env[k] }, issuer, &bytes.Buffer{}); err == nil {
				t.Error("accepted, want an error")
			}
		})
	}
	t.Run("development login on loopback", func(t *testing.T) {
		var out bytes.Buffer
		gh, allowed, closeFn, err := githubConfig(func(string) string { return "" }, issuer, &out)
		if err != nil {
			t.Fatal(err)
		}
		defer closeFn()
		if allowed != devLogin.Login || !strings.HasPrefix(gh.URL, "http://127.0.0.1:") {
			t.Errorf("dev login config = %+v allowed %q", gh, allowed)
		}
		if !strings.Contains(out.String(), "LOCAL DEVELOPMENT LOGIN") {
			t.Errorf("no loud warning:\n%s", out.String())
		}
		// The stand-in answers, with its login page, on loopback.
		resp, err := http.Get(gh.URL + "/login/oauth/authorize?client_id=" + gh.ClientID)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	})
	t.Run("development login refused for a public issuer", func(t *testing.T) {
		if _, _, _, err := githubConfig(func(string) string { return "" }, "https://auth.example.com", &bytes.Buffer{}); err == nil {
			t.Error("development login accepted for a non-loopback issuer")
		}
	})
}

func TestPassThrough(t *testing.T) {
	env := map[string]string{"ACCESS_TOKEN_LIFETIME": "60", "JWT_KEY_DIR": "/keys", "REDIS_URL": "redis://x"}
	got := strings.Join(passThrough(func(k string) string { return env[k] }), " ")
	if got != "ACCESS_TOKEN_LIFETIME=60" {
		t.Errorf("passThrough = %q, want only ACCESS_TOKEN_LIFETIME=60 (deployment settings stay out)", got)
	}
}
