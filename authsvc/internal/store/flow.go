package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/auth"
)

// The authorization flow's short-lived records. Keys:
//
//	oauth:state:{state}              auth.LoginState, single use (GETDEL), TTL ≤ 10 min
//	oauth:session:{sid}              auth.Session (browser session after GitHub login)
//	oauth:user_sessions:{sub}        set of the user's session ids
//	oauth:consent_req:{id}           auth.ConsentRequest (the consent page's pending request)
//	oauth:consents:{client_id}       hash sub → approved scope; TTL = the client's
//	oauth:code:{sha256(code)}        auth.Code, single use, TTL ≤ 10 min
//	oauth:code_used:{sha256(code)}   family id of a redeemed code, for replay detection
//	oauth:code_fail:{sha256(code)}   count of wrong PKCE verifiers presented for a code
//
// Codes are keyed by their hash so a Redis dump does not hand out live codes.

func (s *Store) putJSON(ctx context.Context, key string, v any, ttl time.Duration) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode %T: %w", v, err)
	}
	return s.wrap(s.rdb.Set(ctx, key, b, ttl).Err())
}

func decode(b []byte, err error, v any) error {
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("store: decode %T: %w", v, err)
	}
	return nil
}

func (s *Store) getJSON(ctx context.Context, key string, v any) error {
	b, err := s.rdb.Get(ctx, key).Bytes()
	return decode(b, s.wrap(err), v)
}

// takeJSON reads and deletes key atomically (GETDEL): of many concurrent callers
// exactly one gets the value, the others [auth.ErrNotFound].
func (s *Store) takeJSON(ctx context.Context, key string, v any) error {
	b, err := s.rdb.GetDel(ctx, key).Bytes()
	return decode(b, s.wrap(err), v)
}

// PutLoginState stores a login state under its random state value.
func (s *Store) PutLoginState(ctx context.Context, state string, ls *auth.LoginState, ttl time.Duration) error {
	return s.putJSON(ctx, Key("state", state), ls, ttl)
}

// TakeLoginState returns and deletes a login state: a state works once.
func (s *Store) TakeLoginState(ctx context.Context, state string) (*auth.LoginState, error) {
	var ls auth.LoginState
	if err := s.takeJSON(ctx, Key("state", state), &ls); err != nil {
		return nil, err
	}
	return &ls, nil
}

// PutSession stores a browser session for ttl and indexes it under the user, so that
// revoking the user ends the session too.
func (s *Store) PutSession(ctx context.Context, sess *auth.Session, ttl time.Duration) error {
	b, err := json.Marshal(sess)
	if err != nil {
		return fmt.Errorf("store: encode session: %w", err)
	}
	pipe := s.rdb.TxPipeline()
	pipe.Set(ctx, Key("session", sess.ID), b, ttl)
	pipe.SAdd(ctx, userSessions(sess.Sub), sess.ID)
	pipe.Expire(ctx, userSessions(sess.Sub), ttl)
	_, err = pipe.Exec(ctx)
	return s.wrap(err)
}

func userSessions(sub string) string { return Key("user_sessions", sub) }

// EndUserSessions deletes every browser session of sub.
func (s *Store) EndUserSessions(ctx context.Context, sub string) error {
	ids, err := s.rdb.SMembers(ctx, userSessions(sub)).Result()
	if err != nil {
		return s.wrap(err)
	}
	keys := []string{userSessions(sub)}
	for _, id := range ids {
		keys = append(keys, Key("session", id))
	}
	return s.wrap(s.rdb.Del(ctx, keys...).Err())
}

// GetSession returns a live session or [auth.ErrNotFound].
func (s *Store) GetSession(ctx context.Context, id string) (*auth.Session, error) {
	var sess auth.Session
	if err := s.getJSON(ctx, Key("session", id), &sess); err != nil {
		return nil, err
	}
	sess.ID = id
	return &sess, nil
}

// DeleteSession ends a session (logout, or a user no longer allowed).
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return s.wrap(s.rdb.Del(ctx, Key("session", id)).Err())
}

// PutConsentRequest stores a pending consent under id.
func (s *Store) PutConsentRequest(ctx context.Context, id string, cr *auth.ConsentRequest, ttl time.Duration) error {
	return s.putJSON(ctx, Key("consent_req", id), cr, ttl)
}

// GetConsentRequest reads a pending consent without consuming it (the page may be
// reloaded).
func (s *Store) GetConsentRequest(ctx context.Context, id string) (*auth.ConsentRequest, error) {
	var cr auth.ConsentRequest
	if err := s.getJSON(ctx, Key("consent_req", id), &cr); err != nil {
		return nil, err
	}
	return &cr, nil
}

// TakeConsentRequest consumes a pending consent: a decision is made once.
func (s *Store) TakeConsentRequest(ctx context.Context, id string) (*auth.ConsentRequest, error) {
	var cr auth.ConsentRequest
	if err := s.takeJSON(ctx, Key("consent_req", id), &cr); err != nil {
		return nil, err
	}
	return &cr, nil
}

func consentsKey(clientID string) string { return Key("consents", clientID) }

// RememberConsent records what sub approved for clientID (an opaque value the
// authorize package writes). The record expires with the client (expiresAt Unix
// seconds; 0 = never) and is deleted with it.
func (s *Store) RememberConsent(ctx context.Context, sub, clientID, approvals string, expiresAt int64) error {
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, consentsKey(clientID), sub, approvals)
	if expiresAt > 0 {
		pipe.ExpireAt(ctx, consentsKey(clientID), time.Unix(expiresAt, 0))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return s.wrap(err)
	}
	s.settle(ctx, "a consent")
	return nil
}

// Consent returns what sub approved for clientID, or [auth.ErrNotFound].
func (s *Store) Consent(ctx context.Context, sub, clientID string) (string, error) {
	v, err := s.rdb.HGet(ctx, consentsKey(clientID), sub).Result()
	return v, s.wrap(err)
}

// ForgetConsents drops every approval of clientID (client deletion).
func (s *Store) ForgetConsents(ctx context.Context, clientID string) error {
	return s.wrap(s.rdb.Del(ctx, consentsKey(clientID)).Err())
}

// PutCode stores an authorization code's grant for ttl.
func (s *Store) PutCode(ctx context.Context, code string, c *auth.Code, ttl time.Duration) error {
	return s.putJSON(ctx, Key("code", auth.HashSecret(code)), c, ttl)
}

// PeekCode reads a code's grant without consuming it, so that a request that fails
// validation leaves the code usable. [auth.ErrNotFound] if unknown, expired or redeemed.
func (s *Store) PeekCode(ctx context.Context, code string) (*auth.Code, error) {
	var c auth.Code
	if err := s.getJSON(ctx, Key("code", auth.HashSecret(code)), &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// CodeVerifierFailed counts a wrong PKCE verifier for code and, once the count
// reaches limit, deletes the code: guessing a verifier is hopeless, but nobody gets
// unlimited tries. It returns the count so far.
func (s *Store) CodeVerifierFailed(ctx context.Context, code string, limit int64, ttl time.Duration) (int64, error) {
	h := auth.HashSecret(code)
	pipe := s.rdb.TxPipeline()
	n := pipe.Incr(ctx, Key("code_fail", h))
	pipe.Expire(ctx, Key("code_fail", h), ttl)
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, s.wrap(err)
	}
	if n.Val() >= limit {
		if err := s.rdb.Del(ctx, Key("code", h)).Err(); err != nil {
			return n.Val(), s.wrap(err)
		}
	}
	return n.Val(), nil
}
