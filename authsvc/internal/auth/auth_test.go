package auth

import "testing"

func TestHashSecret(t *testing.T) {
	h := HashSecret("x")
	if len(h) != 64 || !SecretMatches(h, "x") || SecretMatches(h, "y") || SecretMatches("", "") || SecretMatches(h, "") {
		t.Error("HashSecret/SecretMatches wrong")
	}
}
