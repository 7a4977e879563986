package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
)

// A token response is kept for the retry window sealed with a key derived from the
// credential it was issued for (the refresh token, or the code with its verifier): only
// the client that holds that credential can open it, so what Redis keeps is useless to
// anyone reading Redis.

type sealedResponse struct {
	TokenResponse
	ExpiresAt int64 `json:"exp"` // of the access token, for expires_in on a replay
}

func sealKey(secret string) cipher.AEAD {
	k := sha256.Sum256([]byte("mcp-oauth-gateway token replay\x00" + secret))
	block, err := aes.NewCipher(k[:])
	if err != nil {
		panic("token: " + err.Error())
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("token: " + err.Error())
	}
	return aead
}

func seal(secret string, r *TokenResponse, exp int64) ([]byte, error) {
	plain, err := json.Marshal(sealedResponse{TokenResponse: *r, ExpiresAt: exp})
	if err != nil {
		return nil, err
	}
	aead := sealKey(secret)
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, plain, nil), nil
}

var errUnsealed = errors.New("token: the kept answer does not open with this credential")

func unseal(secret string, b []byte, now int64) (*TokenResponse, error) {
	aead := sealKey(secret)
	if len(b) < aead.NonceSize() {
		return nil, errUnsealed
	}
	plain, err := aead.Open(nil, b[:aead.NonceSize()], b[aead.NonceSize():], nil)
	if err != nil {
		return nil, errUnsealed
	}
	var s sealedResponse
	if err := json.Unmarshal(plain, &s); err != nil {
		return nil, errUnsealed
	}
	s.TokenResponse.ExpiresIn = max(s.ExpiresAt-now, 0)
	return &s.TokenResponse, nil
}
