package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// RSABits is the size of generated RSA keys; parsed keys must have at least
// MinRSABits (RFC 7518 §3.3).
const (
	RSABits    = 2048
	MinRSABits = 2048
)

// Generate returns a fresh private key for alg (RS256 or ES256).
func Generate(alg string) (crypto.Signer, error) {
	switch alg {
	case RS256:
		return rsa.GenerateKey(rand.Reader, RSABits)
	case ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, fmt.Errorf("%w: %q has no key pair to generate", ErrAlgorithm, alg)
	}
}

// GeneratePEM returns a fresh private key for alg as PKCS#8 PEM, the format
// JWT_PRIVATE_KEY takes.
func GeneratePEM(alg string) (string, error) {
	k, err := Generate(alg)
	if err != nil {
		return "", err
	}
	return encodePEM(k)
}

func encodePEM(k crypto.Signer) (string, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return "", fmt.Errorf("keys: encode private key: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}

// ParsePEM parses a private key for alg from PEM (PKCS#8, PKCS#1 RSA or SEC1 EC).
// Literal "\n" sequences are turned into newlines first, because .env files often
// hold a PEM on one line. It refuses keys that do not fit alg: RSA under 2048 bits,
// EC curves other than P-256.
func ParsePEM(s, alg string) (crypto.Signer, error) {
	if !strings.Contains(s, "\n") {
		s = strings.ReplaceAll(s, `\n`, "\n")
	}
	block, _ := pem.Decode([]byte(strings.TrimSpace(s)))
	if block == nil {
		return nil, errors.New("is not a PEM block (-----BEGIN PRIVATE KEY----- …); generate one with `just generate-keys`")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q is not a private key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot parse the private key: %v", err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if alg != RS256 {
			return nil, fmt.Errorf("is an RSA key but JWT_ALGORITHM is %s", alg)
		}
		if k.N.BitLen() < MinRSABits {
			return nil, fmt.Errorf("is a %d-bit RSA key; at least %d bits are required", k.N.BitLen(), MinRSABits)
		}
		return k, nil
	case *ecdsa.PrivateKey:
		if alg != ES256 {
			return nil, fmt.Errorf("is an EC key but JWT_ALGORITHM is %s", alg)
		}
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("is an EC key on %s; ES256 needs P-256", k.Curve.Params().Name)
		}
		return k, nil
	default:
		return nil, fmt.Errorf("is a %T, not an RSA or EC private key", key)
	}
}

// CheckPEM validates JWT_PRIVATE_KEY for alg; it has the shape config.KeyCheck wants.
func CheckPEM(s, alg string) error {
	_, err := ParsePEM(s, alg)
	return err
}
