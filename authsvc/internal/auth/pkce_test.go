package auth

import (
	"strings"
	"testing"
)

func TestValidPKCE(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"43 chars", strings.Repeat("a", 43), true},
		{"128 chars", strings.Repeat("Z", 128), true},
		{"unreserved set", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123-._~", true},
		{"42 chars", strings.Repeat("a", 42), false},
		{"129 chars", strings.Repeat("a", 129), false},
		{"plus", strings.Repeat("a", 42) + "+", false},
		{"slash", strings.Repeat("a", 42) + "/", false},
		{"equals padding", strings.Repeat("a", 42) + "=", false},
		{"space", strings.Repeat("a", 42) + " ", false},
		{"non-ascii", strings.Repeat("a", 41) + "é", false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidPKCE(tc.in); got != tc.want {
				t.Fatalf("ValidPKCE(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestVerifyPKCE(t *testing.T) {
	// RFC 7636 Appendix B.
	const verifier = "aBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWOEjXk"
	const rfcVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	const rfcChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	if got := PKCEChallenge(rfcVerifier); got != rfcChallenge {
		t.Fatalf("PKCEChallenge(RFC example) = %q, want %q", got, rfcChallenge)
	}
	tests := []struct {
		name                string
		verifier, challenge string
		want                bool
	}{
		{"rfc example", rfcVerifier, rfcChallenge, true},
		{"wrong verifier", verifier, rfcChallenge, false},
		{"verifier equals challenge (plain)", rfcChallenge, rfcChallenge, false},
		{"no challenge", rfcVerifier, "", false},
		{"malformed verifier", "short", PKCEChallenge("short"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := VerifyPKCE(tc.verifier, tc.challenge); got != tc.want {
				t.Fatalf("Verify = %v, want %v", got, tc.want)
			}
		})
	}
}

func FuzzVerifyPKCE(f *testing.F) {
	f.Add("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, verifier, challenge string) {
		ok := VerifyPKCE(verifier, challenge)
		if ok && (!ValidPKCE(verifier) || PKCEChallenge(verifier) != challenge) {
			t.Fatalf("VerifyPKCE(%q, %q) = true for a non-matching pair", verifier, challenge)
		}
	})
}
