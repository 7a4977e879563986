// The protocol error type of RFC 6749 §5.2 (and its extensions in RFC 6750, 7009,
// 7591, 7592, 8707). The rules return it; the HTTP edge (httpapi.WriteError) decides
// what the client sees: a protocol error keeps its code and description, anything
// else becomes a logged server_error whose details never reach the client.

package auth

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is an OAuth protocol error: its wire shape is {"error": Code,
// "error_description": Description} with HTTP status Status.
//
// The sentinels below are the templates; derive a request-specific error with
// [Error.WithDescription] or [Error.WithCause]. errors.Is matches by Code, so
// errors.Is(ErrInvalidRequest.WithDescription("x"), ErrInvalidRequest) holds.
type Error struct {
	Code        string
	Description string
	Status      int
	// Challenge is the WWW-Authenticate value for a 401. Empty means [WriteError]
	// picks one (Bearer with the error code).
	Challenge string

	cause error // logged, never sent
}

// Error implements error.
func (e *Error) Error() string {
	s := e.Code
	if e.Description != "" {
		s += ": " + e.Description
	}
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

// Unwrap returns the internal cause, if any.
func (e *Error) Unwrap() error { return e.cause }

// Is matches another *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// WithDescription returns a copy of e with a formatted error_description. The
// description is sent to the client: put nothing secret in it.
func (e *Error) WithDescription(format string, args ...any) *Error {
	c := *e
	c.Description = fmt.Sprintf(format, args...)
	return &c
}

// WithCause returns a copy of e carrying an internal cause that is logged but never
// sent.
func (e *Error) WithCause(err error) *Error {
	c := *e
	c.cause = err
	return &c
}

// WithStatus returns a copy of e with another HTTP status.
func (e *Error) WithStatus(status int) *Error {
	c := *e
	c.Status = status
	return &c
}

// WithChallenge returns a copy of e with an explicit WWW-Authenticate value.
func (e *Error) WithChallenge(challenge string) *Error {
	c := *e
	c.Challenge = challenge
	return &c
}

func newError(code string, status int, description string) *Error {
	return &Error{Code: code, Status: status, Description: description}
}

// Protocol error sentinels. Status codes follow the RFC that defines each code.
var (
	// RFC 6749 §5.2 (token endpoint) and §4.1.2.1 (authorization endpoint).
	ErrInvalidRequest          = newError("invalid_request", http.StatusBadRequest, "the request is malformed")
	ErrInvalidClient           = newError("invalid_client", http.StatusUnauthorized, "client authentication failed")
	ErrInvalidGrant            = newError("invalid_grant", http.StatusBadRequest, "the grant is invalid, expired, revoked or was issued to another client")
	ErrUnauthorizedClient      = newError("unauthorized_client", http.StatusBadRequest, "the client may not use this grant type")
	ErrUnsupportedGrantType    = newError("unsupported_grant_type", http.StatusBadRequest, "the grant type is not supported")
	ErrUnsupportedResponseType = newError("unsupported_response_type", http.StatusBadRequest, "the response type is not supported")
	ErrInvalidScope            = newError("invalid_scope", http.StatusBadRequest, "the requested scope is invalid")
	ErrAccessDenied            = newError("access_denied", http.StatusForbidden, "access denied")
	ErrServerError             = newError("server_error", http.StatusInternalServerError, "internal error")
	ErrTemporarilyUnavailable  = newError("temporarily_unavailable", http.StatusServiceUnavailable, "the service is temporarily unavailable; try again later")

	// RFC 8707 §2.
	ErrInvalidTarget = newError("invalid_target", http.StatusBadRequest, "the requested resource is invalid")

	// RFC 7591 §3.2.2.
	ErrInvalidRedirectURI    = newError("invalid_redirect_uri", http.StatusBadRequest, "a redirect URI is invalid")
	ErrInvalidClientMetadata = newError("invalid_client_metadata", http.StatusBadRequest, "the client metadata is invalid")

	// RFC 6750 §3.1 (also RFC 7592 §2 for a bad registration access token).
	ErrInvalidToken      = newError("invalid_token", http.StatusUnauthorized, "the access token is missing, invalid or expired")
	ErrInsufficientScope = newError("insufficient_scope", http.StatusForbidden, "the token does not grant the required scope")

	// RFC 7009 §2.2.1.
	ErrUnsupportedTokenType = newError("unsupported_token_type", http.StatusBadRequest, "the token type is not supported")

	// Not RFC codes but the same wire shape, for HTTP-level refusals.
	ErrUnsupportedMediaType = newError("invalid_request", http.StatusUnsupportedMediaType, "the content type must be application/json")
	ErrRequestTooLarge      = newError("invalid_request", http.StatusRequestEntityTooLarge, "the request body is too large")
	ErrTooManyRequests      = newError("slow_down", http.StatusTooManyRequests, "too many requests; retry later")
	ErrEndpointNotFound     = newError("not_found", http.StatusNotFound, "not found")
	ErrMethodNotAllowed     = newError("invalid_request", http.StatusMethodNotAllowed, "method not allowed")
)

// AsError returns the *Error in err's chain, or nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}
