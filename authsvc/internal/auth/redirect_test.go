package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateRedirectURI(t *testing.T) {
	cases := []struct {
		name, uri, app string
		want           error // nil = accepted
	}{
		{"https", "https://app.example.com/callback", "", nil},
		{"https with port and query", "https://app.example.com:8443/cb?x=1", "", nil},
		{"https punycode host", "https://xn--bcher-kva.example/cb", "", nil},
		{"http localhost", "http://localhost:3000/callback", "", nil},
		{"http 127.0.0.1 no port", "http://127.0.0.1/callback", "", nil},
		{"http [::1]", "http://[::1]:33418/cb", "", nil},
		{"http *.localhost", "http://app.localhost:8080/cb", "", nil},
		{"private-use scheme", "com.example.app:/oauth2redirect", "", nil},
		{"private-use scheme with slashes", "com.example.app://callback", "native", nil},
		{"cursor scheme", "cursor.anysphere:/callback", "", nil},
		{"native https", "https://app.example.com/cb", "native", nil},
		{"web https", "https://app.example.com/cb", "web", nil},

		{"empty", "", "", errRedirectEmpty},
		{"relative", "/callback", "", errRedirectRelative},
		{"no scheme host", "app.example.com/cb", "", errRedirectRelative},
		{"fragment", "https://app.example.com/cb#x", "", errRedirectFragment},
		{"empty fragment", "https://app.example.com/cb#", "", errRedirectFragment},
		{"http public host", "http://app.example.com/cb", "", errRedirectHTTP},
		{"http localhost lookalike", "http://localhost.evil.com/cb", "", errRedirectHTTP},
		{"http 127 lookalike", "http://127.0.0.1.nip.io/cb", "", errRedirectHTTP},
		{"http 0.0.0.0", "http://0.0.0.0:80/cb", "", errRedirectHTTP},
		{"javascript", "javascript:alert(1)", "", errRedirectScheme},
		{"JavaScript mixed case", "JaVaScRiPt:alert(1)", "", errRedirectScheme},
		{"javascript with slashes", "javascript://app.example.com/%0aalert(1)", "", errRedirectScheme},
		{"data", "data:text/html,<script>alert(1)</script>", "", errRedirectScheme},
		{"DATA upper", "DATA:text/html;base64,PHNjcmlwdD4=", "", errRedirectScheme},
		{"file", "file:///etc/passwd", "", errRedirectScheme},
		{"vbscript", "vbscript:msgbox", "", errRedirectScheme},
		{"javascript with tab", "java\tscript:alert(1)", "", errRedirectChars},
		{"javascript with newline", "javascript\n:alert(1)", "", errRedirectChars},
		{"leading space", " https://app.example.com/cb", "", errRedirectChars},
		{"NUL", "https://app.example.com/cb\x00", "", errRedirectChars},
		{"CRLF", "https://app.example.com/cb\r\nSet-Cookie: x", "", errRedirectChars},
		{"DEL", "https://app.example.com/\x7f", "", errRedirectChars},
		{"unicode lookalike host", "https://аpp.example.com/cb", "", errRedirectChars},
		{"RTL override", "https://app.example.com/\u202ecb", "", errRedirectChars},
		{"backslash", "https://app.example.com\\@evil.com/cb", "", errRedirectChars},
		{"private scheme without dot", "myapp:/callback", "", errRedirectPrivate},
		{"userinfo", "https://user@app.example.com/cb", "", errRedirectUserinfo},
		{"userinfo with password", "https://app.example.com:pw@evil.com/cb", "", errRedirectUserinfo},
		{"userinfo on loopback", "http://evil.com@127.0.0.1/cb", "", errRedirectUserinfo},
		{"dot dot segment", "https://app.example.com/a/../cb", "", errRedirectDotSeg},
		{"dot segment", "https://app.example.com/./cb", "", errRedirectDotSeg},
		{"encoded dot dot", "https://app.example.com/a/%2e%2e/cb", "", errRedirectDotSeg},
		{"encoded slash", "https://app.example.com/a%2Fcb", "", errRedirectDotSeg},
		{"encoded backslash", "https://app.example.com/a%5ccb", "", errRedirectDotSeg},
		{"empty host", "https:///cb", "", errRedirectHost},
		{"wildcard host", "https://*.example.com/cb", "", errRedirectHost},
		{"underscore host", "https://a_b.example.com/cb", "", errRedirectHost},
		{"numeric host 0", "https://0/cb", "", errRedirectHost},
		{"short ipv4 loopback", "http://127.1/cb", "", errRedirectHost},
		{"hex ipv4", "https://0x7f.0.0.1/cb", "", errRedirectHost},
		{"octal-looking ipv4", "http://0177.0.0.1/cb", "", errRedirectHost},
		{"at sign in path is fine", "https://app.example.com/u/@me", "", nil},
		{"opaque https", "https:app.example.com", "", errRedirectHost},
		{"empty port", "https://app.example.com:/cb", "", errRedirectHost},
		{"ipv6 zone", "http://[fe80::1%25lo]/cb", "", errRedirectHost},
		{"too long", "https://app.example.com/" + strings.Repeat("a", 2000), "", errRedirectLong},
		{"web with loopback http", "http://localhost:3000/cb", "web", errRedirectWebScheme},
		{"web with loopback https", "https://localhost/cb", "web", errRedirectWebLocal},
		{"web with private scheme", "com.example.app:/cb", "web", errRedirectWebScheme},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ValidateRedirectURI(tc.uri, tc.app)
			if !errors.Is(got, tc.want) {
				t.Errorf("ValidateRedirectURI(%q, %q) = %v, want %v", tc.uri, tc.app, got, tc.want)
			}
		})
	}
}

// FuzzValidateRedirectURI checks invariants on arbitrary input: no panic, and
// everything accepted is absolute, fragment-free, ASCII, and https or loopback http
// or a private-use scheme with a dot.
func FuzzValidateRedirectURI(f *testing.F) {
	for _, s := range []string{"https://a.example/cb", "http://127.0.0.1:1/cb", "com.x.y:/cb", "javascript:x", "http://[::1]/", "https://u@h/", "HTTP://LOCALHOST/"} {
		f.Add(s, "")
		f.Add(s, "web")
	}
	f.Fuzz(func(t *testing.T, uri, app string) {
		if ValidateRedirectURI(uri, app) != nil {
			return
		}
		if strings.ContainsAny(uri, "#\\ \t\r\n") || strings.Contains(authority(uri), "@") {
			t.Fatalf("accepted %q with a forbidden character or user info", uri)
		}
		for i := 0; i < len(uri); i++ {
			if uri[i] < 0x21 || uri[i] > 0x7e {
				t.Fatalf("accepted %q with a non-printable byte", uri)
			}
		}
		scheme, _, ok := strings.Cut(uri, ":")
		if !ok {
			t.Fatalf("accepted %q without a scheme", uri)
		}
		switch s := strings.ToLower(scheme); {
		case s == "https":
		case s == "http":
			if !IsNativeRedirect(uri) || app == AppWeb {
				t.Fatalf("accepted non-loopback http %q (app %q)", uri, app)
			}
		case strings.Contains(s, "."):
			if app == AppWeb {
				t.Fatalf("accepted private-use scheme %q for a web client", uri)
			}
		default:
			t.Fatalf("accepted scheme %q in %q", s, uri)
		}
	})
}

// TestLoopbackRedirect: the consent page warns for every redirect to this computer that
// registration accepts, not only the literal loopback hosts.
func TestLoopbackRedirect(t *testing.T) {
	for uri, want := range map[string]bool{
		"http://127.0.0.1:8976/callback": true,
		"http://[::1]/cb":                true,
		"http://localhost:3000/cb":       true,
		"http://127.0.0.2:9/cb":          true,
		"http://app.localhost:8080/cb":   true,
		"https://app.example.com/cb":     false,
		"com.example.app:/cb":            false,
		"http://localhost.example.com/":  false,
	} {
		if got := LoopbackRedirect(uri); got != want {
			t.Errorf("LoopbackRedirect(%q) = %v, want %v", uri, got, want)
		}
	}
}
