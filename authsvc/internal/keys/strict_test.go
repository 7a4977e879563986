package keys_test

import (
	"context"
	"crypto"
	"errors"
	"testing"
	"time"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/keys"
	"github.com/mcp-oauth-gateway/gateway/internal/testsupport/jwtvectors"
)

// vectorKeys serves the shared vectors' RSA key to the codec.
type vectorKeys struct{ k *jwtvectors.Keys }

func (v vectorKeys) Signing(context.Context) (*keys.Key, error) {
	return &keys.Key{ID: jwtvectors.RSAKid, Alg: "RS256", Signer: v.k.RSA}, nil
}

func (v vectorKeys) Lookup(_ context.Context, kid string) (*keys.Key, error) {
	if kid != jwtvectors.RSAKid {
		return nil, errors.New("unknown kid")
	}
	return &keys.Key{ID: kid, Alg: "RS256", Signer: crypto.Signer(v.k.RSA)}, nil
}

// TestStrictClaimVectors: authsvc's verification (behind /verify and /introspect)
// answers each strict-claim vector as the edge does (the plugin runs the same rows):
// a claim read in another case or any claim twice, or a NumericDate in a string, is
// refused; unrelated names in capitals or with escapes are not.
func TestStrictClaimVectors(t *testing.T) {
	k, err := jwtvectors.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	codec, err := keys.NewCodec(jwtvectors.Issuer, vectorKeys{k}, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := codec.Verify(context.Background(), k.Valid(now, "42"), jwtvectors.Resource); err != nil {
		t.Fatalf("a valid vector token is refused: %v", err)
	}
	for _, c := range k.StrictClaimCases(now) {
		_, err := codec.Verify(context.Background(), c.Token, jwtvectors.Resource)
		if (err == nil) != c.Valid {
			t.Errorf("%s: Verify = %v, want valid %v", c.Name, err, c.Valid)
		}
	}
}
