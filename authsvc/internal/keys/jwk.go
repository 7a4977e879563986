package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
)

// JWK is a public JSON Web Key (RFC 7517) as published in the JWKS.
type JWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
}

// JWKS is the document served at /.well-known/jwks.json.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// publicJWK describes pub (RSA or P-256) with the given kid and alg.
func publicJWK(pub crypto.PublicKey, kid, alg string) JWK {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return JWK{Kty: "RSA", Kid: kid, Use: "sig", Alg: alg, N: b64(k.N.Bytes()), E: b64(big.NewInt(int64(k.E)).Bytes())}
	case *ecdsa.PublicKey:
		// Bytes is the uncompressed point: 0x04, then X and Y at the curve's size.
		point, err := k.Bytes()
		if err != nil {
			return JWK{}
		}
		size := (len(point) - 1) / 2
		x, y := point[1:1+size], point[1+size:]
		return JWK{Kty: "EC", Kid: kid, Use: "sig", Alg: alg, Crv: k.Curve.Params().Name, X: b64(x), Y: b64(y)}
	}
	return JWK{}
}

// Thumbprint returns the RFC 7638 JWK thumbprint of pub (base64url SHA-256 of the
// required members in lexicographic order), which authsvc uses as kid: it is stable
// for a key, differs between keys and reveals nothing.
func Thumbprint(pub crypto.PublicKey) string {
	j := publicJWK(pub, "", "")
	var canonical []byte
	switch j.Kty {
	case "RSA":
		canonical, _ = json.Marshal(struct {
			E   string `json:"e"`
			Kty string `json:"kty"`
			N   string `json:"n"`
		}{j.E, j.Kty, j.N})
	case "EC":
		canonical, _ = json.Marshal(struct {
			Crv string `json:"crv"`
			Kty string `json:"kty"`
			X   string `json:"x"`
			Y   string `json:"y"`
		}{j.Crv, j.Kty, j.X, j.Y})
	default:
		return ""
	}
	sum := sha256.Sum256(canonical)
	return b64(sum[:])
}
