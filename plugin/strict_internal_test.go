package mcpauth

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"testing"

	"github.com/mcp-oauth-gateway/gateway/internal/claimrules"
)

// TestStrictMatchesClaimrules: the plugin's copy of the strict claim rule (names only;
// checkClaims wants NumericDates as numbers) decides as authsvc's internal/claimrules
// does, on fixed payloads and on random ones built from names that differ in case,
// repeat, carry escapes or white space.
func TestStrictMatchesClaimrules(t *testing.T) {
	payloads := []string{
		`{"iss":"a","sub":"1","exp":2}`, `{"sub":"1","SUB":"2"}`, `{"Sub":"1"}`, `{"sub":"1","sub":"2"}`,
		`{"sub":"1","\u0073ub":"2"}`, `{"sub":"1" , "sub" :"2"}`, `{"x":1,"x":2}`, `{"Custom":{"Sub":1}}`,
		`{"name":"A \"quoted\": name","scope":"a:b"}`, `{"caf\u00e9":1}`, `{"a\\":1,"sub":1,"sub":2}`,
	}
	names := []string{`"sub"`, `"SUB"`, `"Sub"`, `"\u0073ub"`, `"iss"`, `"Iss"`, `"x"`, `"X"`, `"client_id"`, `"Client_id"`, `"name"`}
	rng := rand.New(rand.NewSource(1))
	for range 2000 {
		p := "{"
		for i, n := 0, 1+rng.Intn(4); i < n; i++ {
			if i > 0 {
				p += []string{",", " ,", ", "}[rng.Intn(3)]
			}
			p += names[rng.Intn(len(names))] + []string{":", " :"}[rng.Intn(2)] + fmt.Sprint(rng.Intn(9))
		}
		payloads = append(payloads, p+"}")
	}
	for _, p := range payloads {
		var claims map[string]interface{}
		if json.Unmarshal([]byte(p), &claims) != nil {
			t.Fatalf("test payload %s is not JSON", p)
		}
		if got, want := strictClaims([]byte(p), claims), claimrules.Check([]byte(p)) == nil; got != want {
			t.Errorf("%s: plugin %v, claimrules %v", p, got, want)
		}
	}
}
