// Package httpapi is authsvc's HTTP edge: every handler, the one route table
// (endpoints.routes in server.go, served by [New]), the middleware chain and the one
// place that writes OAuth responses and errors ([WriteError], write.go).
//
// The handlers apply the rules of package auth and keep state through package store;
// they never decide a protocol error's wire form themselves: they return or pass an
// error, and WriteError answers with it (an *auth.Error keeps its code and
// description; anything else becomes a logged server_error).
//
// One file per endpoint group:
//   - metadata.go: the RFC 8414 document (also at the OpenID discovery path) and the JWKS;
//   - register.go: RFC 7591 registration and RFC 7592 client configuration;
//   - authorize.go, pages.go, cookie.go: /authorize, the GitHub login's /callback,
//     the consent page and POST /consent, the browser cookies;
//   - token.go, revoke.go: client authentication, then /token and /revoke through
//     auth.Grants; /introspect;
//   - verify.go: /verify (ForwardAuth) and the revocation feed;
//   - middleware.go, clientip.go, cors.go: request log, recovery, body limit,
//     security headers, CORS, the client address behind trusted proxies.
package httpapi
