// register.go implements dynamic client registration: POST /register (RFC 7591)
// and the client configuration endpoint GET/PUT/DELETE /register/{client_id}
// (RFC 7592), with the rules of docs/security.md "Registration".
//
// Decisions where the RFCs leave room:
//   - Server-owned fields (client_id, client_secret, client_id_issued_at,
//     client_secret_expires_at, registration_access_token, registration_client_uri)
//     in a POST are refused with invalid_client_metadata, not silently ignored, so a
//     client never believes it chose its own id. In a PUT, client_id must equal the
//     path, client_secret (optional) must be the current secret, the rest are refused.
//   - Unknown fields are ignored: not stored, not echoed.
//   - application_type: "web" demands https redirect URIs on non-loopback hosts;
//     "native" allows loopback http and private-use schemes as well. When absent it is
//     inferred (native if any redirect URI is loopback or private-use) and stored.
//   - A PUT may not switch between a public (none) and a confidential client: that
//     would need a secret to appear or vanish; register a new client instead.
//   - Reads do not return the client secret or the registration token: only their
//     hashes are stored.

package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/auth"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/metrics"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/store"
)

// RegistrationTokenPrefix starts every registration access token
// (docs/interfaces.md), so it can never be mistaken for a JWT access token.
const RegistrationTokenPrefix = "reg-"

// registerStore is what registration needs from storage; *store.Store implements it.
type registerStore interface {
	CreateClient(ctx context.Context, c *auth.Client, ttl time.Duration) error
	GetClient(ctx context.Context, id string) (*auth.Client, error)
	UpdateClient(ctx context.Context, c *auth.Client) error
	DeleteClient(ctx context.Context, id string) error
	RevokeClient(ctx context.Context, clientID string) (int, error)
	// Allow counts one event against a fixed-window rate limit.
	Allow(ctx context.Context, name string, limit int, window time.Duration) (bool, time.Duration, error)
}

var _ registerStore = (*store.Store)(nil)

// registerOptions configure [newRegister]. Issuer is required; zero values elsewhere mean defaults.
type registerOptions struct {
	// Issuer is the base of registration_client_uri.
	Issuer string
	// ClientLifetime is how long a registration lives; 0 = forever.
	ClientLifetime time.Duration
	// RateLimit is the number of registrations per minute per source address; 0 = off.
	RateLimit int
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// MaxBodyBytes caps a request body; default 64 KiB.
	MaxBodyBytes int64
	// Now is the clock for issued-at and expiry values; default time.Now.
	Now func() time.Time
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// registerHandler serves the registration endpoints.
type registerHandler struct {
	store registerStore
	opts  registerOptions
	log   *slog.Logger
}

// newRegister returns a registerHandler.
func newRegister(st registerStore, opts registerOptions) (*registerHandler, error) {
	if st == nil {
		return nil, errors.New("register: a store is required")
	}
	if opts.Issuer == "" {
		return nil, errors.New("register: Issuer is required")
	}
	if opts.ClientLifetime < 0 || opts.RateLimit < 0 {
		return nil, errors.New("register: ClientLifetime and RateLimit must not be negative")
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 64 << 10
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &registerHandler{store: st, opts: opts, log: opts.Logger}, nil
}

// registrationResponse is the client information response (RFC 7591 §3.2.1, RFC 7592 §3).
type registrationResponse struct {
	ClientID                string `json:"client_id"`
	ClientSecret            string `json:"client_secret,omitempty"`
	ClientIDIssuedAt        int64  `json:"client_id_issued_at"`
	ClientSecretExpiresAt   int64  `json:"client_secret_expires_at"`
	RegistrationAccessToken string `json:"registration_access_token,omitempty"`
	RegistrationClientURI   string `json:"registration_client_uri"`
	auth.ClientMetadata
}

func (h *registerHandler) response(c *auth.Client) *registrationResponse {
	return &registrationResponse{
		ClientID:              c.ID,
		ClientIDIssuedAt:      c.IssuedAt,
		ClientSecretExpiresAt: c.ExpiresAt,
		RegistrationClientURI: h.opts.Issuer + "/register/" + c.ID,
		ClientMetadata:        c.Metadata,
	}
}

// Create serves POST /register.
func (h *registerHandler) Create(w http.ResponseWriter, r *http.Request) {
	if err := h.create(w, r); err != nil {
		h.fail(w, r, err)
	}
}

func (h *registerHandler) create(w http.ResponseWriter, r *http.Request) error {
	// Every attempt counts against the limit, malformed ones too: floods cost the
	// flooder, not Redis or the parser.
	if err := h.rateLimit(w, r); err != nil {
		return err
	}
	req, err := h.readRequest(w, r, false)
	if err != nil {
		return err
	}
	now := h.opts.Now()
	c := &auth.Client{Metadata: req.Metadata, IssuedAt: now.Unix()}
	if h.opts.ClientLifetime > 0 {
		c.ExpiresAt = now.Add(h.opts.ClientLifetime).Unix()
	}
	var secret string
	if req.Metadata.TokenEndpointAuthMethod != auth.AuthNone {
		secret = randomToken("")
		c.SecretHash = auth.HashSecret(secret)
	}
	regToken := randomToken(RegistrationTokenPrefix)
	c.RegistrationTokenHash = auth.HashSecret(regToken)
	for attempt := 0; ; attempt++ {
		c.ID = randomID()
		err = h.store.CreateClient(r.Context(), c, h.opts.ClientLifetime)
		if !errors.Is(err, auth.ErrExists) || attempt == 2 {
			break
		}
	}
	if err != nil {
		return err
	}
	metrics.Registrations.Inc()
	SetClientID(r.Context(), c.ID)
	resp := h.response(c)
	resp.ClientSecret = secret
	resp.RegistrationAccessToken = regToken
	w.Header().Set("Location", resp.RegistrationClientURI)
	WriteJSON(w, http.StatusCreated, resp)
	return nil
}

// Read serves GET /register/{client_id}.
func (h *registerHandler) Read(w http.ResponseWriter, r *http.Request) {
	c, err := h.authorize(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, h.response(c))
}

// Update serves PUT /register/{client_id}: the body replaces the client's metadata.
func (h *registerHandler) Update(w http.ResponseWriter, r *http.Request) {
	if err := h.update(w, r); err != nil {
		h.fail(w, r, err)
	}
}

func (h *registerHandler) update(w http.ResponseWriter, r *http.Request) error {
	c, err := h.authorize(r)
	if err != nil {
		return err
	}
	req, err := h.readRequest(w, r, true)
	if err != nil {
		return err
	}
	switch {
	case req.ClientID == "":
		return auth.ErrInvalidRequest.WithDescription("client_id is required in an update and must equal the client being updated (RFC 7592 §2.2)")
	case req.ClientID != c.ID:
		return auth.ErrInvalidRequest.WithDescription("client_id does not match the client being updated")
	case req.ClientSecret != "" && !c.VerifySecret(req.ClientSecret):
		return auth.ErrInvalidClientMetadata.WithDescription("client_secret does not match the current secret; it cannot be changed by an update")
	case (req.Metadata.TokenEndpointAuthMethod == auth.AuthNone) != c.IsPublic():
		return auth.ErrInvalidClientMetadata.WithDescription("token_endpoint_auth_method cannot switch between none and a secret-based method; register a new client")
	}
	c.Metadata = req.Metadata
	if err := h.store.UpdateClient(r.Context(), c); err != nil {
		if errors.Is(err, auth.ErrNotFound) {
			return invalidToken() // expired or deleted in the meantime
		}
		return err
	}
	WriteJSON(w, http.StatusOK, h.response(c))
	return nil
}

// Delete serves DELETE /register/{client_id}: ends the client (auth.DeleteClient:
// its tokens, consents and codes die with it) and answers 204.
func (h *registerHandler) Delete(w http.ResponseWriter, r *http.Request) {
	c, err := h.authorize(r)
	if err == nil {
		_, err = auth.DeleteClient(r.Context(), h.store, c.ID)
		if errors.Is(err, auth.ErrNotFound) {
			err = invalidToken()
		} else if err == nil {
			metrics.Revocations.WithLabelValues(auth.RevokedClientDeleted).Inc()
		}
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	NoStore(w)
	w.WriteHeader(http.StatusNoContent)
}

// authorize checks the RFC 7592 registration access token for the client in the
// path and returns the client. Every failure, including an unknown or expired
// client, another client's token and an OAuth access token, is the same 401
// invalid_token, so the endpoint reveals nothing about which clients exist.
func (h *registerHandler) authorize(r *http.Request) (*auth.Client, error) {
	id := mux.Vars(r)["client_id"]
	token, ok := bearerToken(r)
	if !ok || id == "" || len(id) > 100 || !strings.HasPrefix(token, RegistrationTokenPrefix) {
		return nil, invalidToken()
	}
	c, err := h.store.GetClient(r.Context(), id)
	if errors.Is(err, auth.ErrNotFound) {
		return nil, invalidToken()
	}
	if err != nil {
		return nil, err
	}
	if !c.VerifyRegistrationToken(token) {
		return nil, invalidToken()
	}
	SetClientID(r.Context(), c.ID)
	return c, nil
}

func invalidToken() *auth.Error {
	return auth.ErrInvalidToken.WithDescription("a valid registration access token for this client is required").
		WithChallenge(`Bearer realm="authsvc", error="invalid_token"`)
}

// bearerToken returns the token of a single "Authorization: Bearer" header.
func bearerToken(r *http.Request) (string, bool) {
	values := r.Header.Values("Authorization")
	if len(values) != 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}

// requireJSON refuses any content type other than application/json (parameters
// such as charset=utf-8 are fine).
func requireJSON(r *http.Request) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return auth.ErrUnsupportedMediaType.WithDescription("Content-Type must be application/json")
	}
	return nil
}

// readRequest checks the content type, reads the bounded body and parses it as a
// registration (update: as an RFC 7592 update).
func (h *registerHandler) readRequest(w http.ResponseWriter, r *http.Request, update bool) (*auth.Registration, error) {
	if err := requireJSON(r); err != nil {
		return nil, err
	}
	body, err := h.readBody(w, r)
	if err != nil {
		return nil, err
	}
	return auth.ParseRegistration(body, update)
}

func (h *registerHandler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > h.opts.MaxBodyBytes {
		return nil, auth.ErrRequestTooLarge.WithDescription("the request body is larger than %d bytes", h.opts.MaxBodyBytes)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, auth.ErrRequestTooLarge.WithDescription("the request body is larger than %d bytes", tooLarge.Limit)
	}
	if err != nil {
		return nil, auth.ErrInvalidRequest.WithDescription("the request body could not be read")
	}
	return body, nil
}

// rateLimit counts this registration against its source address.
func (h *registerHandler) rateLimit(w http.ResponseWriter, r *http.Request) error {
	if h.opts.RateLimit == 0 {
		return nil
	}
	src := ClientIP(r, h.opts.TrustedProxies)
	name := "register:" + src.String()
	ok, retry, err := h.store.Allow(r.Context(), name, h.opts.RateLimit, time.Minute)
	if err != nil {
		return err
	}
	if !ok {
		secs := int((retry + time.Second - 1) / time.Second)
		if secs < 1 {
			secs = 1
		}
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		h.log.Warn("registration rate limit hit", "source", src.String())
		return auth.ErrTooManyRequests.WithDescription("too many registrations from this address; retry in %d seconds", secs)
	}
	return nil
}

func (h *registerHandler) fail(w http.ResponseWriter, r *http.Request, err error) {
	WriteError(w, r, h.log, err)
}

// randomID returns a client id: 128 random bits, base64url.
func randomID() string {
	return random(16)
}

// randomToken returns prefix + base64url(32 random bytes).
func randomToken(prefix string) string {
	return prefix + random(32)
}

func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}
