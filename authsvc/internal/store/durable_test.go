package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/auth"
	"github.com/mcp-oauth-gateway/gateway/internal/testsupport/redistest"
)

// TestWaitReplicasCoversWhatClientsAreTold checks, on a real master and replica, that
// with WaitReplicas every operation whose loss in a failover would undo what a client
// or an administrator was told returns only once the replica has it: with the replica
// paused the operation does not return; once it runs again, the replica already holds
// the operation's effect when the call returns: grants from a code and refresh-token
// rotations, client changes, consent and revocations.
func TestWaitReplicasCoversWhatClientsAreTold(t *testing.T) {
	sn := redistest.StartSentinel(t)
	rdb, err := Dial(Conn{URL: "redis://sentinel/0", Sentinels: sn.Sentinels, MasterName: sn.MasterName})
	if err != nil {
		t.Fatal(err)
	}
	s := New(rdb, &Options{WaitReplicas: 1, WaitTimeout: time.Minute})
	t.Cleanup(func() { s.Close() })
	replica := redis.NewClient(&redis.Options{Addr: sn.Replica(t)})
	t.Cleanup(func() { replica.Close() })
	ctx := context.Background()

	grant := func(fam, jti, sub, client string) *auth.Grant {
		exp := time.Now().Add(time.Hour).Unix()
		return &auth.Grant{
			Access:      auth.AccessRecord{JTI: jti, FamilyID: fam, ClientID: client, Sub: sub, Login: "u" + sub, ExpiresAt: exp},
			Refresh:     auth.RefreshRecord{FamilyID: fam, ClientID: client, Sub: sub, Login: "u" + sub, ExpiresAt: exp},
			RefreshHash: auth.HashSecret("rt-" + fam),
		}
	}
	redeem := func(t *testing.T, code string, g *auth.Grant) {
		if err := s.PutCode(ctx, code, &auth.Code{FamilyID: g.Refresh.FamilyID}, time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Redeem(ctx, &auth.Redemption{Kind: "code", Hash: auth.HashSecret(code), Grant: g, MarkerTTL: time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	revoked := func(fam string) func() (bool, error) {
		return func() (bool, error) {
			v, err := replica.HGet(ctx, familyKey(fam), "revoked").Result()
			return v == "1", err
		}
	}
	onReplicaKey := func(key string, want bool) func() (bool, error) {
		return func() (bool, error) {
			n, err := replica.Exists(ctx, key).Result()
			return (n == 1) == want, err
		}
	}
	updated := testClient("c-upd")
	updated.Metadata.ClientName = "Renamed"

	for _, tc := range []struct {
		name  string
		setup func(t *testing.T)
		op    func() error
		// onReplica reports whether the replica holds the operation's effect.
		onReplica func() (bool, error)
	}{
		{
			name:  "Redeem a code",
			setup: func(t *testing.T) { must(t, s.PutCode(ctx, "code-g1", &auth.Code{FamilyID: "g1"}, time.Minute)) },
			op: func() error {
				_, err := s.Redeem(ctx, &auth.Redemption{Kind: "code", Hash: auth.HashSecret("code-g1"),
					Grant: grant("g1", "jg1", "11", "c11"), MarkerTTL: time.Minute})
				return err
			},
			// The refresh token the client was given.
			onReplica: onReplicaKey(Key("refresh", auth.HashSecret("rt-g1")), true),
		},
		{
			name:  "Redeem a refresh token (rotation)",
			setup: func(t *testing.T) { redeem(t, "code-g2", grant("g2", "jg2", "12", "c12")) },
			op: func() error {
				next := grant("g2", "jg2b", "12", "c12")
				next.RefreshHash = auth.HashSecret("rt-g2-rotated")
				_, err := s.Redeem(ctx, &auth.Redemption{Kind: "refresh", Hash: auth.HashSecret("rt-g2"),
					Grant: next, MarkerTTL: time.Minute})
				return err
			},
			onReplica: func() (bool, error) {
				rotated, err := onReplicaKey(Key("refresh", auth.HashSecret("rt-g2-rotated")), true)()
				if !rotated || err != nil {
					return false, err
				}
				return onReplicaKey(Key("refresh", auth.HashSecret("rt-g2")), false)()
			},
		},
		{
			name: "CreateClient",
			op:   func() error { return s.CreateClient(ctx, testClient("c-new"), 0) },
			onReplica: func() (bool, error) {
				n, err := replica.Exists(ctx, clientKey("c-new")).Result()
				return n == 1, err
			},
		},
		{
			name:  "UpdateClient",
			setup: func(t *testing.T) { must(t, s.CreateClient(ctx, testClient("c-upd"), 0)) },
			op:    func() error { return s.UpdateClient(ctx, updated) },
			onReplica: func() (bool, error) {
				b, err := replica.Get(ctx, clientKey("c-upd")).Result()
				return err == nil && strings.Contains(b, "Renamed"), err
			},
		},
		{
			name:  "DeleteClient",
			setup: func(t *testing.T) { must(t, s.CreateClient(ctx, testClient("c-del"), 0)) },
			op:    func() error { return s.DeleteClient(ctx, "c-del") },
			onReplica: func() (bool, error) {
				n, err := replica.Exists(ctx, clientKey("c-del")).Result()
				return n == 0, err
			},
		},
		{
			name: "RememberConsent",
			op:   func() error { return s.RememberConsent(ctx, "7", "c-new", "approved", 0) },
			onReplica: func() (bool, error) {
				v, err := replica.HGet(ctx, consentsKey("c-new"), "7").Result()
				return v == "approved", err
			},
		},
		{
			name:      "RevokeFamily",
			setup:     func(t *testing.T) { redeem(t, "code-f1", grant("f1", "j1", "1", "c1")) },
			op:        func() error { _, err := s.RevokeFamily(ctx, "f1"); return err },
			onReplica: revoked("f1"),
		},
		{
			name:  "RevokeAccess",
			setup: func(t *testing.T) { redeem(t, "code-f2", grant("f2", "j2", "2", "c2")) },
			op: func() error {
				a, err := s.GetAccess(ctx, "j2")
				if err != nil {
					return err
				}
				return s.RevokeAccess(ctx, a)
			},
			onReplica: func() (bool, error) {
				n, err := replica.Exists(ctx, Key("token", "j2")).Result()
				return n == 0, err
			},
		},
		{
			name:      "RevokeUser",
			setup:     func(t *testing.T) { redeem(t, "code-f3", grant("f3", "j3", "3", "c3")) },
			op:        func() error { _, err := s.RevokeUser(ctx, "3"); return err },
			onReplica: revoked("f3"),
		},
		{
			name:      "RevokeClient",
			setup:     func(t *testing.T) { redeem(t, "code-f4", grant("f4", "j4", "4", "c4")) },
			op:        func() error { _, err := s.RevokeClient(ctx, "c4"); return err },
			onReplica: revoked("f4"),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup(t)
			}
			resume := sn.PauseReplica(t)
			done := make(chan error, 1)
			go func() { done <- tc.op() }()
			select {
			case err := <-done:
				resume()
				t.Fatalf("returned (%v) while the replica was paused: it did not wait for the replica", err)
			case <-time.After(300 * time.Millisecond):
			}
			resume()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if ok, err := tc.onReplica(); !ok {
				t.Fatalf("returned, but the replica does not hold the effect yet (%v)", err)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkCreateClientWait measures what WaitReplicas adds to an operation that
// settles after its writes (one fence write and WAIT in one round trip): sequential
// registrations on a master with one replica, without and with WAIT 1.
func BenchmarkCreateClientWait(b *testing.B) {
	sn := redistest.StartSentinel(b)
	for _, wait := range []int{0, 1} {
		b.Run(fmt.Sprintf("wait=%d", wait), func(b *testing.B) {
			rdb, err := Dial(Conn{URL: "redis://sentinel/0", Sentinels: sn.Sentinels, MasterName: sn.MasterName})
			if err != nil {
				b.Fatal(err)
			}
			s := New(rdb, &Options{WaitReplicas: wait, WaitTimeout: time.Second})
			defer s.Close()
			ctx := context.Background()
			run := auth.HashSecret(time.Now().String())[:8] // -count repeats this with fresh ids
			for i := 0; b.Loop(); i++ {
				if err := s.CreateClient(ctx, testClient(fmt.Sprintf("bench-%s-%d", run, i)), time.Minute); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
