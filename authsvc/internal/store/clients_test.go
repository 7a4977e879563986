package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/auth"
	"github.com/mcp-oauth-gateway/gateway/internal/testsupport/redistest"
)

func testClient(id string) *auth.Client {
	return &auth.Client{
		ID:                    id,
		Metadata:              auth.ClientMetadata{RedirectURIs: []string{"https://app.example/cb"}, TokenEndpointAuthMethod: "client_secret_basic", ClientName: "App"},
		SecretHash:            auth.HashSecret("s3cret"),
		RegistrationTokenHash: auth.HashSecret("reg-token"),
		IssuedAt:              1000,
	}
}

func TestClientLifecycle(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, nil)

	if _, err := s.GetClient(ctx, "c1"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("GetClient before create: err = %v, want auth.ErrNotFound", err)
	}
	if err := s.CreateClient(ctx, testClient("c1"), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateClient(ctx, testClient("c1"), 0); !errors.Is(err, auth.ErrExists) {
		t.Fatalf("second CreateClient: err = %v, want auth.ErrExists", err)
	}
	got, err := s.GetClient(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Metadata.ClientName != "App" || got.Metadata.RedirectURIs[0] != "https://app.example/cb" {
		t.Errorf("GetClient = %+v", got)
	}
	if !got.VerifySecret("s3cret") || got.VerifySecret("s3cret ") || got.VerifySecret("") {
		t.Error("VerifySecret gives wrong answers")
	}
	if !got.VerifyRegistrationToken("reg-token") || got.VerifyRegistrationToken("reg-toke") {
		t.Error("VerifyRegistrationToken gives wrong answers")
	}
	if got.IsPublic() || !got.HasRedirectURI("https://app.example/cb") || got.HasRedirectURI("https://app.example/cb/") {
		t.Error("IsPublic/HasRedirectURI wrong")
	}

	got.Metadata.ClientName = "Renamed"
	if err := s.UpdateClient(ctx, got); err != nil {
		t.Fatal(err)
	}
	again, _ := s.GetClient(ctx, "c1")
	if again.Metadata.ClientName != "Renamed" {
		t.Errorf("after update name = %q", again.Metadata.ClientName)
	}

	list, err := s.ListClients(ctx)
	if err != nil || len(list) != 1 || list[0].ID != "c1" {
		t.Fatalf("ListClients = %v, %v", list, err)
	}
	if err := s.DeleteClient(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteClient(ctx, "c1"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("second delete: %v, want auth.ErrNotFound", err)
	}
	if err := s.UpdateClient(ctx, got); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("update after delete: %v, want auth.ErrNotFound (no resurrection)", err)
	}
	if _, err := s.GetClient(ctx, "c1"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("get after delete: %v", err)
	}
}

func TestClientTTLKeptOnUpdateAndExpiry(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, nil)
	if err := s.CreateClient(ctx, testClient("short"), 4*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateClient(ctx, testClient("eternal"), 0); err != nil {
		t.Fatal(err)
	}
	c, _ := s.GetClient(ctx, "short")
	if err := s.UpdateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	ttl := s.Redis().TTL(ctx, clientKey("short")).Val()
	if ttl <= 0 || ttl > 4*time.Second {
		t.Errorf("TTL after update = %v, want kept (0 < ttl ≤ 4s)", ttl)
	}
	if ttl := s.Redis().TTL(ctx, clientKey("eternal")).Val(); ttl != -1 {
		t.Errorf("eternal client TTL = %v, want none (-1)", ttl)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := s.GetClient(ctx, "short")
		if errors.Is(err, auth.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("client with 4s TTL still there after 20s (err %v)", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	list, err := s.ListClients(ctx)
	if err != nil || len(list) != 1 || list[0].ID != "eternal" {
		t.Fatalf("ListClients after expiry = %v, %v", list, err)
	}
	if n := s.Redis().ZCard(ctx, clientIndex).Val(); n != 1 {
		t.Errorf("index holds %d ids after pruning, want 1", n)
	}
}

func TestAllow(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	s := newTestStore(t, &Options{Now: func() time.Time { return now }})
	for i := 1; i <= 3; i++ {
		ok, _, err := s.Allow(ctx, "register:1.2.3.4", 3, time.Minute)
		if err != nil || !ok {
			t.Fatalf("event %d: ok=%v err=%v, want allowed", i, ok, err)
		}
	}
	ok, retry, err := s.Allow(ctx, "register:1.2.3.4", 3, time.Minute)
	if err != nil || ok {
		t.Fatalf("4th event: ok=%v err=%v, want refused", ok, err)
	}
	if retry <= 0 || retry > time.Minute {
		t.Errorf("retryAfter = %v, want within the window", retry)
	}
	if ok, _, _ := s.Allow(ctx, "register:5.6.7.8", 3, time.Minute); !ok {
		t.Error("another source was refused")
	}
	now = now.Add(time.Minute)
	if ok, _, _ := s.Allow(ctx, "register:1.2.3.4", 3, time.Minute); !ok {
		t.Error("next window still refused")
	}
}

func TestRedisDownIsUnavailable(t *testing.T) {
	addr, stop, err := redistest.Start()
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open("redis://"+addr+"/0", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping while up: %v", err)
	}
	stop()
	checks := map[string]error{
		"Ping":         s.Ping(ctx),
		"CreateClient": s.CreateClient(ctx, testClient("x"), 0),
		"DeleteClient": s.DeleteClient(ctx, "x"),
	}
	_, checks["GetClient"] = s.GetClient(ctx, "x")
	_, checks["ListClients"] = s.ListClients(ctx)
	_, _, checks["Allow"] = s.Allow(ctx, "k", 1, time.Minute)
	for name, err := range checks {
		if !errors.Is(err, auth.ErrUnavailable) {
			t.Errorf("%s with Redis down: err = %v, want auth.ErrUnavailable", name, err)
		}
		if errors.Is(err, auth.ErrNotFound) {
			t.Errorf("%s: an outage must not look like a missing record", name)
		}
		var u interface{ Unavailable() bool }
		if !errors.As(err, &u) || !u.Unavailable() {
			t.Errorf("%s: error does not expose Unavailable()", name)
		}
	}
}

func TestKey(t *testing.T) {
	if got := Key("client", "abc"); got != "oauth:client:abc" {
		t.Errorf("Key = %q", got)
	}
}
