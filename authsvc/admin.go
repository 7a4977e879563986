package main

import (
	"context"
	"fmt"
)

// adminCommands are the client and token administration commands (docs/oauth.md
// "Administration"). Each needs needAdmin: configuration without GitHub credentials,
// Redis and keys, in env.
// The behaviour lives in adminops.go.
var adminCommands = []command{
	{"list-clients", "list registered clients", needAdmin, adminCmd(0, func(ctx context.Context, a *Admin, _ []string) error { return a.ListClients(ctx) })},
	{"list-tokens", "list a user's live tokens: list-tokens <github-login|user-id>", needAdmin, adminCmd(1, func(ctx context.Context, a *Admin, args []string) error { return a.ListTokens(ctx, args[0]) })},
	{"revoke-token", "revoke an access token (jti) or a refresh token's family: revoke-token <jti|rt-…>", needAdmin, adminCmd(1, func(ctx context.Context, a *Admin, args []string) error { return a.RevokeToken(ctx, args[0]) })},
	{"revoke-user", "revoke every token of a user: revoke-user <github-login|user-id>", needAdmin, adminCmd(1, func(ctx context.Context, a *Admin, args []string) error { return a.RevokeUser(ctx, args[0]) })},
	{"delete-client", "delete a client and revoke its tokens: delete-client <client_id>", needAdmin, adminCmd(1, func(ctx context.Context, a *Admin, args []string) error { return a.DeleteClient(ctx, args[0]) })},
	{"purge-expired", "drop index and revocation-feed entries of expired tokens", needAdmin, adminCmd(0, func(ctx context.Context, a *Admin, _ []string) error { return a.PurgeExpired(ctx) })},
}

// adminCmd checks the argument count and runs f with an [Admin] on env's store.
func adminCmd(nargs int, f func(context.Context, *Admin, []string) error) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error {
		if len(e.args) != nargs {
			return fmt.Errorf("%w: expected %d argument(s), got %d (see authsvc help)", ErrUsage, nargs, len(e.args))
		}
		return f(ctx, &Admin{Store: e.store, Out: e.stdout, AccessLifetime: e.cfg.AccessTokenLifetime}, e.args)
	}
}
