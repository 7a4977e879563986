package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/auth"
)

type downErr struct{}

func (downErr) Error() string     { return "dial tcp 10.1.2.3:6379: connection refused" }
func (downErr) Unavailable() bool { return true }

func TestWriteError(t *testing.T) {
	cases := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
		wantDesc   string
		wantAuth   string // substring of WWW-Authenticate, "" = header absent
		wantLog    string // substring of the log, "" = nothing logged
	}{
		{"protocol error", auth.ErrInvalidGrant.WithDescription("code expired"), 400, "invalid_grant", "code expired", "", ""},
		{"wrapped protocol error", fmt.Errorf("ctx: %w", auth.ErrInvalidScope), 400, "invalid_scope", auth.ErrInvalidScope.Description, "", ""},
		{"invalid token gets bearer challenge", auth.ErrInvalidToken, 401, "invalid_token", auth.ErrInvalidToken.Description, `Bearer realm="authsvc", error="invalid_token"`, ""},
		{"invalid client with basic challenge", auth.ErrInvalidClient.WithChallenge(BasicChallenge), 401, "invalid_client", auth.ErrInvalidClient.Description, `Basic realm="authsvc"`, ""},
		{"cause is logged not sent", auth.ErrInvalidRequest.WithCause(errors.New("secret-detail")), 400, "invalid_request", auth.ErrInvalidRequest.Description, "", "secret-detail"},
		{"storage outage", fmt.Errorf("get client: %w", downErr{}), 503, "temporarily_unavailable", auth.ErrTemporarilyUnavailable.Description, "", "10.1.2.3"},
		{"unknown error", errors.New("pq: password=hunter2"), 500, "server_error", "internal error", "", "hunter2"},
		{"body too large", &http.MaxBytesError{Limit: 10}, 413, "invalid_request", "the request body is larger than 10 bytes", "", ""},
		{"nil error", nil, 500, "server_error", "internal error", "", "nil error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			rec := httptest.NewRecorder()
			WriteError(rec, httptest.NewRequest("POST", "/token?code=abc", nil), log, tc.err)
			if rec.Code != tc.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tc.wantStatus)
			}
			var body map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if body["error"] != tc.wantCode || body["error_description"] != tc.wantDesc {
				t.Errorf("body = %v, want error=%q description=%q", body, tc.wantCode, tc.wantDesc)
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q", got)
			}
			if got := rec.Header().Get("Pragma"); got != "no-cache" {
				t.Errorf("Pragma = %q", got)
			}
			if got := rec.Header().Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q", got)
			}
			auth := rec.Header().Get("WWW-Authenticate")
			if tc.wantAuth == "" && auth != "" || !strings.Contains(auth, tc.wantAuth) {
				t.Errorf("WWW-Authenticate = %q, want %q", auth, tc.wantAuth)
			}
			if tc.wantLog == "" && logs.Len() > 0 || !strings.Contains(logs.String(), tc.wantLog) {
				t.Errorf("log = %q, want it to contain %q", logs.String(), tc.wantLog)
			}
			if tc.wantLog != "" && strings.Contains(rec.Body.String(), tc.wantLog) {
				t.Errorf("body leaks %q: %s", tc.wantLog, rec.Body)
			}
		})
	}
}

func TestEvery401HasChallenge(t *testing.T) {
	for _, e := range []*auth.Error{auth.ErrInvalidClient, auth.ErrInvalidToken, auth.ErrInvalidRequest.WithStatus(401)} {
		rec := httptest.NewRecorder()
		WriteError(rec, httptest.NewRequest("GET", "/", nil), slog.New(slog.DiscardHandler), e)
		if rec.Code != 401 || rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s: status %d, WWW-Authenticate %q", e.Code, rec.Code, rec.Header().Get("WWW-Authenticate"))
		}
	}
}

func TestErrorIs(t *testing.T) {
	e := auth.ErrInvalidGrant.WithDescription("x").WithCause(errors.New("y"))
	if !errors.Is(e, auth.ErrInvalidGrant) {
		t.Error("derived error does not match its sentinel")
	}
	if errors.Is(e, auth.ErrInvalidRequest) {
		t.Error("derived error matches another sentinel")
	}
	if auth.ErrInvalidGrant.Description == "x" {
		t.Error("WithDescription modified the sentinel")
	}
}

func TestBearerChallengeStripsQuotes(t *testing.T) {
	got := BearerChallenge("invalid_token", "bad \"token\"\r\n\\")
	want := `Bearer realm="authsvc", error="invalid_token", error_description="bad token"`
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
