package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseMetadataDefaults(t *testing.T) {
	m, err := ParseMetadata([]byte(`{"redirect_uris":["https://app.example.com/cb"],"unknown":{"x":1},"client_name":"<b>App</b>"}`))
	if err != nil {
		t.Fatal(err)
	}
	if m.TokenEndpointAuthMethod != AuthBasic || strings.Join(m.GrantTypes, ",") != "authorization_code" ||
		strings.Join(m.ResponseTypes, ",") != "code" || m.ApplicationType != AppWeb || m.ClientName != "<b>App</b>" {
		t.Errorf("defaults = %+v", m)
	}
	m, err = ParseMetadata([]byte(`{"redirect_uris":["http://127.0.0.1:9/cb"],"grant_types":["refresh_token","authorization_code","refresh_token"],"token_endpoint_auth_method":"none","client_uri":null}`))
	if err != nil {
		t.Fatal(err)
	}
	if m.ApplicationType != AppNative || strings.Join(m.GrantTypes, ",") != "refresh_token,authorization_code" {
		t.Errorf("inferred = %+v", m)
	}
}

// TestParseMetadataRefusals covers the registration attacks (docs/security.md) on the body.
func TestParseMetadataRefusals(t *testing.T) {
	many := make([]string, 10000)
	for i := range many {
		many[i] = fmt.Sprintf("https://a.example/%d", i)
	}
	manyJSON, _ := json.Marshal(map[string]any{"redirect_uris": many})
	cases := []struct {
		name     string
		body     string
		wantCode string
		wantDesc string
	}{
		{"empty body", ``, "invalid_client_metadata", "empty"},
		{"json array", `[{"redirect_uris":["https://a.example/cb"]}]`, "invalid_client_metadata", "must be a JSON object"},
		{"json string", `"x"`, "invalid_client_metadata", "must be a JSON object"},
		{"not json", `redirect_uris=https://a.example/cb`, "invalid_client_metadata", "must be a JSON object"},
		{"truncated", `{"redirect_uris":["https://a.example/cb"]`, "invalid_client_metadata", "not valid JSON"},
		{"two objects", `{"redirect_uris":["https://a.example/cb"]}{}`, "invalid_client_metadata", "exactly one"},
		{"deep nesting", `{"x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`, "invalid_client_metadata", "nested too deeply"},
		{"deep nesting unbalanced", `{"x":` + strings.Repeat("{\"a\":", 10000), "invalid_client_metadata", "nested too deeply"},
		{"bad utf8", "{\"client_name\":\"\xff\"}", "invalid_client_metadata", "UTF-8"},
		{"no redirect uris", `{"client_name":"x"}`, "invalid_redirect_uri", "required"},
		{"empty redirect uris", `{"redirect_uris":[]}`, "invalid_redirect_uri", "required"},
		{"redirect uris string", `{"redirect_uris":"https://a.example/cb"}`, "invalid_client_metadata", "array of strings"},
		{"redirect uri number", `{"redirect_uris":[1]}`, "invalid_client_metadata", "redirect_uris[0] must be a string"},
		{"10000 redirect uris", string(manyJSON), "invalid_redirect_uri", "too many redirect_uris: 10000"},
		{"duplicate redirect", `{"redirect_uris":["https://a.example/cb","https://a.example/cb"]}`, "invalid_redirect_uri", "listed twice"},
		{"javascript redirect", `{"redirect_uris":["https://a.example/cb","javascript:alert(1)"]}`, "invalid_redirect_uri", "redirect_uris[1] uses a forbidden scheme"},
		{"escaped control char", `{"redirect_uris":["https://a.example/cb\u0000"]}`, "invalid_redirect_uri", "control"},
		{"client_id", `{"client_id":"mine","redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata", "client_id is assigned by the server"},
		{"client_secret", `{"client_secret":"mine","redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata", "client_secret is assigned"},
		{"registration token", `{"registration_access_token":"reg-x","redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata", "registration_access_token"},
		{"issued at", `{"client_id_issued_at":1,"redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata", "client_id_issued_at"},
		{"secret expires", `{"client_secret_expires_at":0,"redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata", "client_secret_expires_at"},
		{"registration uri", `{"registration_client_uri":"https://evil","redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata", "registration_client_uri"},
		{"implicit grant", `{"grant_types":["implicit"],"redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata", `"implicit" is not supported`},
		{"password grant", `{"grant_types":["authorization_code","password"],"redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata", "password"},
		{"client credentials", `{"grant_types":["client_credentials"],"redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata", "client_credentials"},
		{"device code", `{"grant_types":["urn:ietf:params:oauth:grant-type:device_code"],"redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata", "not supported"},
		{"refresh only", `{"grant_types":["refresh_token"],"redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata", "must include authorization_code"},
		{"empty grants", `{"grant_types":[],"redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata", "must not be empty"},
		{"token response type", `{"response_types":["token"],"redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata", `"token" is not supported`},
		{"code id_token", `{"response_types":["code id_token"],"redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata", "not supported"},
		{"auth method jwt", `{"token_endpoint_auth_method":"private_key_jwt","redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata", "private_key_jwt"},
		{"application type", `{"application_type":"service","redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata", "application_type"},
		{"web with localhost", `{"application_type":"web","redirect_uris":["http://localhost/cb"]}`, "invalid_redirect_uri", "application_type web"},
		{"huge client name", `{"client_name":"` + strings.Repeat("A", 100000) + `","redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata", "client_name is too long"},
		{"long client name", `{"client_name":"` + strings.Repeat("é", 201) + `","redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata", "client_name has 201 characters"},
		{"client name control", `{"client_name":"a\u0007b","redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata", "control"},
		{"client name RTL override", `{"client_name":"evil\u202eppa","redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata", "bidirectional"},
		{"client name number", `{"client_name":5,"redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata", "client_name must be a string"},
		{"logo javascript", `{"logo_uri":"javascript:alert(1)","redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata", "logo_uri must be an absolute https URL"},
		{"client uri http", `{"client_uri":"http://a.example","redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata", "client_uri"},
		{"scope quote", `{"scope":"mcp \"x","redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata", "scope"},
		{"scope double space", `{"scope":"a  b","redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata", "scope"},
		{"too many contacts", `{"contacts":["a","b","c","d","e","f","g","h","i","j","k"],"redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata", "contacts has 11"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseMetadata([]byte(tc.body))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want an *Error", err)
			}
			if e.Code != tc.wantCode || !strings.Contains(e.Description, tc.wantDesc) || e.Status != 400 {
				t.Errorf("got %d %s %q, want 400 %s containing %q", e.Status, e.Code, e.Description, tc.wantCode, tc.wantDesc)
			}
		})
	}
}

// FuzzParseMetadata: arbitrary bodies never panic, every refusal is a 400 protocol
// error, and anything accepted satisfies the registration invariants.
func FuzzParseMetadata(f *testing.F) {
	for _, s := range []string{
		`{"redirect_uris":["https://a.example/cb"]}`,
		`{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"]}`,
		`{"redirect_uris":["com.a.b:/cb"],"client_name":"x","scope":"mcp"}`,
		`[1]`, `{"a":[[[[[]]]]]}`, `{"client_id":"x"}`, `{"redirect_uris":[null]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := ParseMetadata(body)
		if err != nil {
			e := AsError(err)
			if e == nil || e.Status != 400 {
				t.Fatalf("refusal %v is not a 400 protocol error", err)
			}
			return
		}
		if len(m.RedirectURIs) == 0 || len(m.RedirectURIs) > MaxRedirectURIs {
			t.Fatalf("accepted %d redirect URIs", len(m.RedirectURIs))
		}
		for _, u := range m.RedirectURIs {
			if err := ValidateRedirectURI(u, m.ApplicationType); err != nil {
				t.Fatalf("accepted invalid redirect %q: %v", u, err)
			}
		}
		for _, g := range m.GrantTypes {
			if g != "authorization_code" && g != "refresh_token" {
				t.Fatalf("accepted grant %q", g)
			}
		}
		if len(m.ResponseTypes) != 1 || m.ResponseTypes[0] != "code" {
			t.Fatalf("accepted response types %q", m.ResponseTypes)
		}
		if m.ApplicationType != AppWeb && m.ApplicationType != AppNative {
			t.Fatalf("application_type %q", m.ApplicationType)
		}
		if err := checkText("client_name", m.ClientName); err != nil {
			t.Fatalf("accepted client_name %q", m.ClientName)
		}
	})
}
