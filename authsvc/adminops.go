// adminops.go implements authsvc's client and token administration commands
// (list-clients, list-tokens, revoke-token, revoke-user, delete-client,
// purge-expired). They talk to Redis directly, so they work while the server runs,
// and every revocation they make appears on the revocation feed like one made
// through the HTTP endpoints.

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/auth"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/store"
)

// Store is what the commands use; *store.Store implements it.
type adminStore interface {
	ListClients(ctx context.Context) ([]*auth.Client, error)
	GetClient(ctx context.Context, id string) (*auth.Client, error)
	DeleteClient(ctx context.Context, id string) error
	RevokeClient(ctx context.Context, clientID string) (int, error)
	UserTokens(ctx context.Context, sub string) ([]auth.AccessRecord, []auth.RefreshRecord, error)
	SubForLogin(ctx context.Context, login string) (string, error)
	RevokeUser(ctx context.Context, sub string) (int, error)
	GetAccess(ctx context.Context, jti string) (*auth.AccessRecord, error)
	RevokeAccess(ctx context.Context, a *auth.AccessRecord) error
	GetRefresh(ctx context.Context, hash string) (*auth.RefreshRecord, error)
	RevokeFamily(ctx context.Context, fid string) (int, error)
	PurgeExpired(ctx context.Context, accessLifetime time.Duration) (int, error)
}

var _ adminStore = (*store.Store)(nil)

// Admin runs the commands against a store.
type Admin struct {
	Store          adminStore
	Out            io.Writer
	AccessLifetime time.Duration
	Now            func() time.Time
}

// ErrUsage means the arguments were wrong; the message says how.
var ErrUsage = errors.New("usage")

func (a *Admin) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func stamp(unix int64) string {
	if unix == 0 {
		return "never"
	}
	return time.Unix(unix, 0).UTC().Format(time.RFC3339)
}

// ListClients prints every registered client.
func (a *Admin) ListClients(ctx context.Context) error {
	clients, err := a.Store.ListClients(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(a.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT_ID\tNAME\tAUTH\tISSUED\tEXPIRES\tREDIRECT_URIS")
	for _, c := range clients {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, printable(c.Metadata.ClientName), c.Metadata.TokenEndpointAuthMethod,
			stamp(c.IssuedAt), stamp(c.ExpiresAt), strings.Join(c.Metadata.RedirectURIs, " "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(a.Out, "%d client(s)\n", len(clients))
	return err
}

// resolveUser accepts a GitHub numeric id or a login.
func (a *Admin) resolveUser(ctx context.Context, user string) (string, error) {
	if user == "" {
		return "", fmt.Errorf("%w: name a GitHub login or numeric user id", ErrUsage)
	}
	if strings.Trim(user, "0123456789") == "" {
		return user, nil
	}
	sub, err := a.Store.SubForLogin(ctx, user)
	if errors.Is(err, auth.ErrNotFound) {
		return "", fmt.Errorf("no tokens were ever issued to GitHub login %q (give the numeric user id instead)", user)
	}
	return sub, err
}

// ListTokens prints a user's live access tokens and refresh tokens.
func (a *Admin) ListTokens(ctx context.Context, user string) error {
	sub, err := a.resolveUser(ctx, user)
	if err != nil {
		return err
	}
	access, refresh, err := a.Store.UserTokens(ctx, sub)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(a.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tID\tCLIENT_ID\tLOGIN\tSCOPE\tAUDIENCE\tISSUED\tEXPIRES")
	for _, t := range access {
		fmt.Fprintf(tw, "access\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.JTI, t.ClientID, t.Login, t.Scope, strings.Join(t.Audience, " "), stamp(t.IssuedAt), stamp(t.ExpiresAt))
	}
	for _, r := range refresh {
		fmt.Fprintf(tw, "refresh\tfamily:%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.FamilyID, r.ClientID, r.Login, r.Scope, strings.Join(r.Audience, " "), stamp(r.IssuedAt), stamp(r.ExpiresAt))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(a.Out, "user %s: %d access token(s), %d refresh token(s)\n", sub, len(access), len(refresh))
	return err
}

// RevokeToken revokes one access token (by jti) or, given a refresh token (rt-…),
// its whole family.
func (a *Admin) RevokeToken(ctx context.Context, tok string) error {
	if tok == "" {
		return fmt.Errorf("%w: give an access token id (jti) or a refresh token", ErrUsage)
	}
	if strings.HasPrefix(tok, auth.RefreshPrefix) {
		r, err := a.Store.GetRefresh(ctx, auth.HashSecret(tok))
		if err != nil {
			return fmt.Errorf("refresh token: %w", err)
		}
		n, err := a.Store.RevokeFamily(ctx, r.FamilyID)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(a.Out, "revoked the refresh token family %s (%d token(s))\n", r.FamilyID, n)
		return err
	}
	rec, err := a.Store.GetAccess(ctx, tok)
	if errors.Is(err, auth.ErrNotFound) {
		// Unknown or already gone: publish it anyway, so an edge that still caches
		// the token drops it.
		rec = &auth.AccessRecord{JTI: tok, ExpiresAt: a.now().Add(a.AccessLifetime).Unix()}
	} else if err != nil {
		return err
	}
	if err := a.Store.RevokeAccess(ctx, rec); err != nil {
		return err
	}
	_, err = fmt.Fprintf(a.Out, "revoked access token %s\n", tok)
	return err
}

// RevokeUser revokes every token of a user.
func (a *Admin) RevokeUser(ctx context.Context, user string) error {
	sub, err := a.resolveUser(ctx, user)
	if err != nil {
		return err
	}
	n, err := a.Store.RevokeUser(ctx, sub)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(a.Out, "revoked every token of user %s (%d token(s))\n", sub, n)
	return err
}

// DeleteClient deletes a client and everything issued to it.
func (a *Admin) DeleteClient(ctx context.Context, id string) error {
	if id == "" {
		return fmt.Errorf("%w: give a client_id", ErrUsage)
	}
	if _, err := a.Store.GetClient(ctx, id); err != nil {
		return fmt.Errorf("client %s: %w", id, err)
	}
	n, err := auth.DeleteClient(ctx, a.Store, id)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(a.Out, "deleted client %s and revoked %d token(s)\n", id, n)
	return err
}

// PurgeExpired drops index and feed entries whose tokens expired.
func (a *Admin) PurgeExpired(ctx context.Context) error {
	n, err := a.Store.PurgeExpired(ctx, a.AccessLifetime)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(a.Out, "purged %d expired entr(y/ies)\n", n)
	return err
}

// printable keeps a client-chosen name from moving the terminal cursor.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, s)
}
