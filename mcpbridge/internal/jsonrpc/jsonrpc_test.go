package jsonrpc

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		kind      Kind
		id        string
		method    string
		token     string
		requestID string
		err       error
	}{
		{name: "request", in: `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"x"}}`, kind: KindRequest, id: "7", method: "tools/call"},
		{name: "string id kept byte for byte", in: `{"jsonrpc":"2.0","id":"a\u0041","method":"m"}`, kind: KindRequest, id: `"a\u0041"`, method: "m"},
		{name: "float id", in: `{"jsonrpc":"2.0","id":1.50,"method":"m"}`, kind: KindRequest, id: "1.50", method: "m"},
		{name: "progress token", in: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"progressToken":"p-1"}}}`, kind: KindRequest, id: "1", method: "tools/call", token: `"p-1"`},
		{name: "numeric progress token", in: `{"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":{"progressToken":5}}}`, kind: KindRequest, id: "1", method: "x", token: "5"},
		{name: "progress notification", in: `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"p-1","progress":1}}`, kind: KindNotification, method: "notifications/progress", token: `"p-1"`},
		{name: "cancelled", in: `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"r9"}}`, kind: KindNotification, method: "notifications/cancelled", requestID: `"r9"`},
		{name: "notification", in: "{\n  \"jsonrpc\": \"2.0\",\n  \"method\": \"notifications/initialized\"\n}", kind: KindNotification, method: "notifications/initialized"},
		{name: "result", in: `{"jsonrpc":"2.0","id":3,"result":{}}`, kind: KindResponse, id: "3"},
		{name: "error", in: `{"jsonrpc":"2.0","id":3,"error":{"code":-1,"message":"x"}}`, kind: KindResponse, id: "3"},
		{name: "escaped key", in: `{"jsonrpc":"2.0","\u0069d":4,"method":"m"}`, kind: KindRequest, id: "4", method: "m"},
		{name: "duplicate id: last wins", in: `{"jsonrpc":"2.0","id":1,"id":2,"method":"m"}`, kind: KindRequest, id: "2", method: "m"},
		{name: "nested id is not the id", in: `{"jsonrpc":"2.0","method":"m","params":{"id":3,"x":[{"id":4}]}}`, kind: KindNotification, method: "m"},
		{name: "keys are case-sensitive", in: `{"jsonrpc":"2.0","ID":3,"method":"m"}`, kind: KindNotification, method: "m"},
		{name: "not JSON", in: `{"jsonrpc":`, err: ErrParse},
		{name: "array element not object", in: `[1]`, err: ErrInvalidMessage},
		{name: "string", in: `"hello"`, err: ErrInvalidMessage},
		{name: "wrong version", in: `{"jsonrpc":"1.0","id":1,"method":"m"}`, err: ErrInvalidMessage},
		{name: "no version", in: `{"id":1,"method":"m"}`, err: ErrInvalidMessage},
		{name: "null id", in: `{"jsonrpc":"2.0","id":null,"method":"m"}`, err: ErrInvalidMessage},
		{name: "object id", in: `{"jsonrpc":"2.0","id":{},"method":"m"}`, err: ErrInvalidMessage},
		{name: "bool id", in: `{"jsonrpc":"2.0","id":true,"method":"m"}`, err: ErrInvalidMessage},
		{name: "empty method", in: `{"jsonrpc":"2.0","id":1,"method":""}`, err: ErrInvalidMessage},
		{name: "numeric method", in: `{"jsonrpc":"2.0","id":1,"method":5}`, err: ErrInvalidMessage},
		{name: "response with both", in: `{"jsonrpc":"2.0","id":1,"result":1,"error":{}}`, err: ErrInvalidMessage},
		{name: "response without id", in: `{"jsonrpc":"2.0","result":1}`, err: ErrInvalidMessage},
		{name: "nothing", in: `{"jsonrpc":"2.0"}`, err: ErrInvalidMessage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse([]byte(tc.in))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Parse error = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if m.Kind != tc.kind || string(m.ID) != tc.id || m.Method != tc.method ||
				string(m.ProgressToken) != tc.token || string(m.RequestID) != tc.requestID {
				t.Errorf("got kind %v id %s method %q token %s requestId %s, want %v %s %q %s %s",
					m.Kind, m.ID, m.Method, m.ProgressToken, m.RequestID, tc.kind, tc.id, tc.method, tc.token, tc.requestID)
			}
			if strings.ContainsAny(string(m.Raw), "\n\r") {
				t.Errorf("Raw contains a newline: %q", m.Raw)
			}
		})
	}
}

func TestWithIDRoundTrip(t *testing.T) {
	for _, clientID := range []string{`"abc"`, `"\u00e9\n"`, `42`, `1e3`, `-0`, `"42"`} {
		t.Run(clientID, func(t *testing.T) {
			req, err := Parse([]byte(`{"jsonrpc":"2.0","id":` + clientID + `,"method":"tools/call","params":{"b":[1,2],"a":"x"}}`))
			if err != nil {
				t.Fatal(err)
			}
			toChild, err := Parse(req.WithID(json.RawMessage("17")))
			if err != nil {
				t.Fatalf("rewritten request does not parse: %v", err)
			}
			if string(toChild.ID) != "17" || toChild.Method != "tools/call" {
				t.Fatalf("to child: id %s method %s", toChild.ID, toChild.Method)
			}
			resp, err := Parse([]byte(`{"jsonrpc":"2.0","id":17,"result":{"ok":true}}`))
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse(resp.WithID(req.ID))
			if err != nil {
				t.Fatal(err)
			}
			if string(back.ID) != clientID {
				t.Errorf("id back to client = %s, want %s byte for byte", back.ID, clientID)
			}
			if want := `{"jsonrpc":"2.0","id":17,"method":"tools/call","params":{"b":[1,2],"a":"x"}}`; string(toChild.Raw) != want {
				t.Errorf("to child = %s, want %s (only the id changes)", toChild.Raw, want)
			}
		})
	}
}

func TestWithRequestID(t *testing.T) {
	m, err := Parse([]byte(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"client-7","reason":"user"}}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(m.WithRequestID(json.RawMessage("3")))
	if err != nil {
		t.Fatal(err)
	}
	if string(got.RequestID) != "3" || !strings.Contains(string(got.Raw), `"reason":"user"`) {
		t.Errorf("rewritten cancellation = %s", got.Raw)
	}
}

func TestSplitBatch(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		n     int
		batch bool
		err   error
	}{
		{name: "single", in: `{"a":1}`, n: 1},
		{name: "batch", in: ` [{"a":1},{"b":2}]`, n: 2, batch: true},
		{name: "empty batch", in: `[]`, batch: true, err: ErrEmptyBatch},
		{name: "broken batch", in: `[{"a":1},`, batch: true, err: ErrParse},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msgs, batch, err := SplitBatch([]byte(tc.in))
			if !errors.Is(err, tc.err) || batch != tc.batch || (err == nil && len(msgs) != tc.n) {
				t.Errorf("SplitBatch = %d msgs, batch %v, err %v; want %d, %v, %v", len(msgs), batch, err, tc.n, tc.batch, tc.err)
			}
		})
	}
}

func TestErrorResponse(t *testing.T) {
	got, err := Parse(ErrorResponse(json.RawMessage(`"x"`), CodeRequestTimeout, "late"))
	if err != nil || !got.IsError() || string(got.ID) != `"x"` {
		t.Errorf("ErrorResponse = %v, %v", got, err)
	}
	if s := string(ErrorResponse(nil, CodeParseError, "bad")); !strings.Contains(s, `"id":null`) {
		t.Errorf("ErrorResponse without id = %s, want id null", s)
	}
}

// FuzzParse feeds attacker-controlled bodies through the envelope parser and the id
// rewrite: no panic, and whatever parses survives a rewrite with its kind and method.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`,
		`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}`,
		`{"jsonrpc":"2.0","id":"x","result":{"protocolVersion":"2025-11-25"}}`,
		`[{"jsonrpc":"2.0","id":1,"method":"a","params":{"_meta":{"progressToken":1}}}]`,
		`{"jsonrpc":"2.0","id":1e400,"method":"m"}`, `{`, `[]`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		msgs, _, err := SplitBatch(data)
		if err != nil {
			return
		}
		for _, raw := range msgs {
			m, err := Parse(raw)
			if err != nil {
				continue
			}
			out := m.WithID(json.RawMessage("12"))
			again, err := Parse(out)
			if err != nil {
				t.Fatalf("rewritten message does not parse: %v\n%s", err, out)
			}
			if again.Kind != m.Kind {
				t.Fatalf("kind changed %v → %v", m.Kind, again.Kind)
			}
			// What the bridge built from a parsed message, Reparse reads as Parse does.
			re, err := Reparse(out)
			if err != nil || re.Kind != again.Kind || string(re.ID) != string(again.ID) || re.Method != again.Method ||
				re.IsError() != again.IsError() || string(re.Result()) != string(again.Result()) {
				t.Fatalf("Reparse reads the rewritten message differently from Parse (%v):\n%s", err, out)
			}
			if m.ID != nil && string(again.ID) != "12" {
				t.Fatalf("id after rewrite = %s, want 12", again.ID)
			}
			if m.IsError() != again.IsError() || m.ResultProtocolVersion() != again.ResultProtocolVersion() {
				t.Fatalf("result changed by the rewrite:\n%s\n%s", m.Raw, again.Raw)
			}
			if again.Method != m.Method {
				t.Fatalf("method changed %q → %q", m.Method, again.Method)
			}
			if m.RequestID != nil {
				c, err := Parse(m.WithRequestID(json.RawMessage("3")))
				if err != nil || string(c.RequestID) != "3" {
					t.Fatalf("cancellation rewrite: %v %s", err, c.Raw)
				}
			}
			// The scanner and encoding/json agree on what the routed members are.
			var ref map[string]json.RawMessage
			if json.Unmarshal(m.Raw, &ref) == nil && m.ID != nil && string(ref["id"]) != string(m.ID) {
				t.Fatalf("id %s, encoding/json reads %s", m.ID, ref["id"])
			}
		}
	})
}
