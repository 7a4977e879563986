package store

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/auth"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestRevocationLog(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	s := newTestStore(t, &Options{Now: clock.now})
	ctx := context.Background()

	all, first, err := s.Revocations(ctx, "")
	if err != nil || len(all) != 0 || first == "" {
		t.Fatalf("empty log: %v %q %v, want no entries and a cursor", all, first, err)
	}
	now := clock.t.Unix()
	entries := []Revocation{
		{Kind: KindToken, ID: "jti-old", At: now - 1},
		{Kind: KindToken, ID: "jti-live", At: now + 3600},
		{Kind: KindUser, ID: "42", At: now - 7200},
		{Kind: KindClient, ID: "client-a", At: now},
	}
	for _, e := range entries {
		if err := s.AppendRevocation(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	got, cursor, err := s.Revocations(ctx, first)
	if err != nil || len(got) != 4 {
		t.Fatalf("delta from the first cursor: %d entries %v, want 4", len(got), err)
	}
	for i, e := range got {
		if e.ID != entries[i].ID || e.Seq != int64(i+1) {
			t.Fatalf("entry %d = %+v, want %s with seq %d", i, e, entries[i].ID, i+1)
		}
	}
	if more, _, _ := s.Revocations(ctx, cursor); len(more) != 0 {
		t.Fatalf("delta from the newest cursor: %v, want none", more)
	}
	epoch := strings.Split(cursor, ".")[0]
	for _, bad := range []string{"x", "other.1", epoch + ".99", epoch + ".-1", epoch + "."} {
		if _, _, err := s.Revocations(ctx, bad); !errors.Is(err, ErrUnknownCursor) {
			t.Errorf("cursor %q: err = %v, want ErrUnknownCursor", bad, err)
		}
	}

	// Pruning drops the expired token and the user entry older than the token
	// lifetime, and the old cursor stays valid.
	n, err := s.PruneRevocations(ctx, time.Hour)
	if err != nil || n != 2 {
		t.Fatalf("prune removed %d (%v), want 2", n, err)
	}
	left, _, err := s.Revocations(ctx, first)
	if err != nil || len(left) != 2 || left[0].ID != "jti-live" || left[1].ID != "client-a" {
		t.Fatalf("after prune: %+v %v, want jti-live and client-a", left, err)
	}
}

func TestRevocationAppendsAreOrdered(t *testing.T) {
	s := newTestStore(t, nil)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.AppendRevocation(ctx, Revocation{Kind: KindToken, ID: string(rune('a' + i%26)), At: time.Now().Unix() + 60}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, cursor, err := s.Revocations(ctx, "")
	if err != nil || len(got) != 40 || !strings.HasSuffix(cursor, ".40") {
		t.Fatalf("got %d entries, cursor %q, err %v; want 40 entries ending at 40", len(got), cursor, err)
	}
	for i, e := range got {
		if e.Seq != int64(i+1) {
			t.Fatalf("entry %d has seq %d: the log has a gap or is out of order", i, e.Seq)
		}
	}
}

func TestCodeRedeemedOnce(t *testing.T) {
	s := newTestStore(t, nil)
	ctx := context.Background()
	if err := s.PutCode(ctx, "the-code", &auth.Code{FamilyID: "fam", Sub: "1"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PeekCode(ctx, "the-code"); err != nil {
		t.Fatalf("peek: %v", err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Redeem(ctx, &auth.Redemption{Kind: "code", Hash: auth.HashSecret("the-code"), Grant: testGrant(), MarkerTTL: time.Minute}); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if !errors.Is(err, auth.ErrSpent) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d redemptions won, want 1", wins)
	}
	if fam, err := s.SpentFamily(ctx, "code", auth.HashSecret("the-code")); err != nil || fam != "fam" {
		t.Fatalf("replay marker = %q, %v; want fam", fam, err)
	}
	if n, _ := s.rdb.Exists(ctx, Key("code", "the-code")).Result(); n != 0 {
		t.Fatal("a code is stored under its plain value")
	}
}

func TestPurgeExpiredIndexes(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	s := newTestStore(t, &Options{Now: clock.now})
	ctx := context.Background()
	g := &auth.Grant{
		Access:      auth.AccessRecord{JTI: "j1", FamilyID: "f1", ClientID: "c1", Sub: "9", Login: "ivy", ExpiresAt: clock.t.Add(time.Minute).Unix()},
		Refresh:     auth.RefreshRecord{FamilyID: "f1", ClientID: "c1", Sub: "9", Login: "ivy", ExpiresAt: clock.t.Add(time.Hour).Unix()},
		RefreshHash: auth.HashSecret("rt-1"),
	}
	if err := s.PutCode(ctx, "c1", &auth.Code{FamilyID: "f1"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Redeem(ctx, &auth.Redemption{Kind: "code", Hash: auth.HashSecret("c1"), Grant: g, MarkerTTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PurgeExpired(ctx, time.Minute); err != nil || n != 0 {
		t.Fatalf("purge with nothing expired: %d %v, want 0", n, err)
	}
	clock.t = clock.t.Add(2 * time.Hour)
	if n, err := s.PurgeExpired(ctx, time.Minute); err != nil || n != 2 {
		t.Fatalf("purge after expiry: %d %v, want 2 (user and client index entries)", n, err)
	}
	if sub, err := s.SubForLogin(ctx, "IVY"); err != nil || sub != "9" {
		t.Fatalf("SubForLogin(IVY) = %q %v, want 9", sub, err)
	}
}

// testGrant is a grant for family "fam" of user 1, valid for an hour.
func testGrant() *auth.Grant {
	exp := time.Now().Add(time.Hour).Unix()
	return &auth.Grant{
		Access:      auth.AccessRecord{JTI: "j-" + auth.HashSecret(time.Now().String())[:8], FamilyID: "fam", ClientID: "c", Sub: "1", Login: "one", ExpiresAt: exp},
		Refresh:     auth.RefreshRecord{FamilyID: "fam", ClientID: "c", Sub: "1", Login: "one", ExpiresAt: exp},
		RefreshHash: auth.HashSecret("rt-" + time.Now().String()),
	}
}
