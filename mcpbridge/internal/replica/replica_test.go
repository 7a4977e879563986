package replica

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/metrics"
)

var secret = []byte("identity-secret-" + strings.Repeat("x", 24))

// counted returns a function that says how much mcpbridge_forwarded_requests_total
// {outcome} moved since counted was called.
func counted(outcome string) func() float64 {
	c := metrics.Forwarded.WithLabelValues(outcome)
	before := testutil.ToFloat64(c)
	return func() float64 { return testutil.ToFloat64(c) - before }
}

func TestIDNamesItsReplica(t *testing.T) {
	a, err := New("http://10.0.0.5:3000", secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := a.NewID()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range id {
		if c < 0x21 || c > 0x7e {
			t.Fatalf("id %q has a character outside visible ASCII", id)
		}
	}
	b, _ := New("http://10.0.0.6:3000", secret, nil)
	if owner, ok := b.Owner(id); !ok || owner != "http://10.0.0.5:3000" {
		t.Fatalf("another replica reads the owner as %q %v, want http://10.0.0.5:3000", owner, ok)
	}

	// Steering the bridge elsewhere takes the key: a changed URL, an id of a bridge
	// with another secret, a plain id, garbage.
	parts := strings.Split(id, ".")
	evil := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("http://169.254.169.254")) + "." + parts[2]
	other, _ := New("http://10.0.0.5:3000", []byte("another-secret-"+strings.Repeat("y", 24)), nil)
	otherID, _ := other.NewID()
	for name, bad := range map[string]string{
		"URL changed":       evil,
		"another secret":    otherID,
		"single bridge id":  parts[0],
		"empty":             "",
		"dots only":         "..",
		"MAC not base64":    parts[0] + "." + parts[1] + ".!!",
		"random part short": parts[0][:31] + "." + parts[1] + "." + parts[2],
	} {
		if owner, ok := b.Owner(bad); ok {
			t.Errorf("%s: Owner = %q, want not ok", name, owner)
		}
	}
}

func TestNewRefusesBadURLs(t *testing.T) {
	for _, u := range []string{"", "10.0.0.5:3000", "ftp://h:1", "http://", "http://h:1/mcp", "http://u:p@h:1", "http://h:1?x=1"} {
		if _, err := New(u, secret, nil); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
	if _, err := New("http://h:1", nil, nil); err == nil {
		t.Error("New without a secret accepted")
	}
}

// TestForward: a request for another replica's session reaches that replica with the
// host the client asked for (the edge's signature covers it), the body and headers it
// had, and the mark that stops a second hop; an answer streams back. A replica that
// is gone is reported, with nothing written.
func TestForward(t *testing.T) {
	var got struct{ host, body, forwarded, user string }
	owner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.host, got.body, got.forwarded, got.user = r.Host, string(b), r.Header.Get(HeaderForwarded), r.Header.Get("X-User-Id")
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "data: {}\n\n")
	}))
	defer owner.Close()
	a, _ := New(owner.URL, secret, nil)
	id, _ := a.NewID()
	b, _ := New("http://127.0.0.1:1", secret, nil)

	fwd, unreachable := counted("forwarded"), counted("owner_unreachable")
	req := httptest.NewRequest("POST", "http://mcp.example.com/mcp", strings.NewReader(`{"jsonrpc":"2.0"}`))
	req.Header.Set("X-User-Id", "alice")
	rec := httptest.NewRecorder()
	forwarded, gone := b.Forward(rec, req, id)
	if !forwarded || gone {
		t.Fatalf("Forward = %v, %v; want forwarded", forwarded, gone)
	}
	if got.host != "mcp.example.com" || got.body != `{"jsonrpc":"2.0"}` || got.user != "alice" || got.forwarded != b.Self() {
		t.Errorf("the owner received host %q body %q user %q forwarded %q", got.host, got.body, got.user, got.forwarded)
	}
	if rec.Code != http.StatusOK || rec.Body.String() != "data: {}\n\n" {
		t.Errorf("answer %d %q", rec.Code, rec.Body.String())
	}

	// Its own id, and a request already forwarded once, are served where they are.
	if forwarded, _ := a.Forward(httptest.NewRecorder(), httptest.NewRequest("POST", "/mcp", nil), id); forwarded {
		t.Error("the owner forwarded its own session")
	}
	again := httptest.NewRequest("POST", "/mcp", nil)
	again.Header.Set(HeaderForwarded, "http://elsewhere:3000")
	if forwarded, _ := b.Forward(httptest.NewRecorder(), again, id); forwarded {
		t.Error("a forwarded request was forwarded again")
	}

	// The owner is gone: nothing written, the caller answers 404.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "http://" + l.Addr().String()
	l.Close()
	dead, _ := New(deadURL, secret, nil)
	deadID, _ := dead.NewID()
	rec = httptest.NewRecorder()
	forwarded, gone = b.Forward(rec, httptest.NewRequest("POST", "/mcp", strings.NewReader("{}")), deadID)
	if !forwarded || !gone || rec.Body.Len() != 0 {
		t.Errorf("dead owner: forwarded %v gone %v, wrote %q; want gone with nothing written", forwarded, gone, rec.Body.String())
	}
	if fwd() != 1 || unreachable() != 1 {
		t.Errorf("counted %v forwarded and %v owner_unreachable, want 1 and 1", fwd(), unreachable())
	}
}

// TestForwardClientLeaves: a client that goes away while the owner works is not an
// unreachable owner (no 404 to write, no warning).
func TestForwardClientLeaves(t *testing.T) {
	owner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body) // the server notices a closed connection once the body is read
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	defer owner.Close()
	a, _ := New(owner.URL, secret, nil)
	id, _ := a.NewID()
	b, _ := New("http://127.0.0.1:1", secret, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req := httptest.NewRequest("POST", "/mcp", strings.NewReader("{}")).WithContext(ctx)
	if forwarded, gone := b.Forward(httptest.NewRecorder(), req, id); !forwarded || gone {
		t.Errorf("Forward = %v, %v; want forwarded, not gone", forwarded, gone)
	}
}

func TestAutoURLNeedsAFixedPort(t *testing.T) {
	for _, listen := range []string{":0", "127.0.0.1:0", "nonsense"} {
		if u, err := AutoURL(listen); err == nil {
			t.Errorf("AutoURL(%q) = %q, want an error", listen, u)
		}
	}
}

// TestUserOwner: every replica computes the same owner for a user from the same peer
// list (whatever order it came in), the users spread over the replicas, a replica
// leaving moves only its own users, and without peers a replica serves everyone.
func TestUserOwner(t *testing.T) {
	urls := []string{"http://10.0.0.1:3000", "http://10.0.0.2:3000", "http://10.0.0.3:3000"}
	var reps []*Peers
	for i, u := range urls {
		p, err := New(u, secret, nil)
		if err != nil {
			t.Fatal(err)
		}
		if p.UserOwner("alice") != u {
			t.Fatalf("replica %s without peers: owner %s, want itself", u, p.UserOwner("alice"))
		}
		// Each learns the list in another order, and without itself.
		others := append(append([]string{}, urls[i+1:]...), urls[:i]...)
		p.SetPeers(others)
		reps = append(reps, p)
	}
	count := map[string]int{}
	const users = 3000
	owners := map[string]string{}
	for i := range users {
		user := fmt.Sprintf("user-%d", i)
		o := reps[0].UserOwner(user)
		for _, p := range reps[1:] {
			if p.UserOwner(user) != o {
				t.Fatalf("%s: replicas disagree: %s vs %s", user, o, p.UserOwner(user))
			}
		}
		owners[user] = o
		count[o]++
	}
	for _, u := range urls {
		if n := count[u]; n < users/4 || n > users/2 {
			t.Errorf("replica %s owns %d of %d users, want about a third", u, n, users)
		}
	}
	// 10.0.0.3 leaves: its users move, nobody else's.
	reps[0].SetPeers(urls[:2])
	for user, o := range owners {
		now := reps[0].UserOwner(user)
		if o != urls[2] && now != o {
			t.Fatalf("%s moved from %s to %s though its replica stayed", user, o, now)
		}
		if now == urls[2] {
			t.Fatalf("%s still owned by the replica that left", user)
		}
	}
	reps[0].SetPeers(nil)
	if o := reps[0].UserOwner("alice"); o != urls[0] {
		t.Errorf("peers cleared: owner %s, want this replica", o)
	}
}

// TestForwardUser: a user's request goes to the owner once, with its body and the mark
// that stops a second hop; a request already forwarded, or of a user this replica owns,
// is served here; an owner that is unreachable leaves the request to this replica with
// nothing written.
func TestForwardUser(t *testing.T) {
	var hits []string
	owner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hits = append(hits, string(b)+"|"+r.Header.Get(HeaderForwarded))
		_, _ = io.WriteString(w, "answered by the owner")
	}))
	defer owner.Close()
	here, err := New("http://127.0.0.1:1", secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	here.SetPeers([]string{owner.URL})
	var theirs, mine string
	for i := 0; theirs == "" || mine == ""; i++ {
		u := fmt.Sprintf("user-%d", i)
		if here.UserOwner(u) == owner.URL {
			theirs = u
		} else {
			mine = u
		}
	}
	body := []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	req := func() *http.Request {
		return httptest.NewRequest("POST", "http://gw.example/mcp", strings.NewReader("already read"))
	}
	fwd, unreachable := counted("user_owner"), counted("user_owner_unreachable")
	rec := httptest.NewRecorder()
	if !here.ForwardUser(rec, req(), theirs, body) || rec.Body.String() != "answered by the owner" {
		t.Fatalf("the owner's user: forwarded false or answer %q", rec.Body.String())
	}
	if len(hits) != 1 || hits[0] != string(body)+"|http://127.0.0.1:1" {
		t.Fatalf("the owner saw %q, want the body and the forwarded mark", hits)
	}
	if here.ForwardUser(httptest.NewRecorder(), req(), mine, body) {
		t.Error("a user this replica owns was forwarded")
	}
	again := req()
	again.Header.Set(HeaderForwarded, owner.URL)
	if here.ForwardUser(httptest.NewRecorder(), again, theirs, body) {
		t.Error("a forwarded request was forwarded again")
	}
	owner.Close()
	rec = httptest.NewRecorder()
	if here.ForwardUser(rec, req(), theirs, body) || rec.Body.Len() != 0 || rec.Code != http.StatusOK {
		t.Errorf("owner gone: forwarded, or wrote %d %q", rec.Code, rec.Body.String())
	}
	if fwd() != 1 || unreachable() != 1 {
		t.Errorf("counted %v user_owner and %v user_owner_unreachable, want 1 and 1", fwd(), unreachable())
	}
}

// TestDiscover: the peers follow what a DNS name resolves to, each on this replica's
// port.
func TestDiscover(t *testing.T) {
	p, err := New("http://127.0.0.1:4321", secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Discover(ctx, "localhost", time.Hour); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p.mu.RLock()
		peers := append([]string{}, p.peers...)
		p.mu.RUnlock()
		if len(peers) > 0 {
			for _, u := range peers {
				if !strings.HasSuffix(u, ":4321") || !strings.HasPrefix(u, "http://") {
					t.Errorf("peer %q, want http://<address>:4321", u)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no peers after resolving localhost")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
}

// TestForwardedStreamNotReadEnds: a client that stops reading a forwarded event stream
// loses it once a write has waited for the write timeout; it does not hold the
// forwarding replica (and the owner's stream) for ever.
func TestForwardedStreamNotReadEnds(t *testing.T) {
	chunk := []byte("data: " + strings.Repeat("x", 64<<10) + "\n\n")
	owner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			http.NewResponseController(w).Flush()
		}
	}))
	defer owner.Close()
	here, err := New("http://127.0.0.1:1", secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	here.writeTimeout = 300 * time.Millisecond
	here.SetPeers([]string{owner.URL})
	user := ""
	for i := 0; user == ""; i++ {
		if u := fmt.Sprintf("user-%d", i); here.UserOwner(u) == owner.URL {
			user = u
		}
	}
	returned := make(chan struct{})
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(returned)
		here.ForwardUser(w, r, user, []byte("{}"))
	}))
	defer front.Close()
	c, err := net.Dial("tcp", front.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "POST /mcp HTTP/1.1\r\nHost: gw\r\nContent-Length: 2\r\n\r\n{}"); err != nil {
		t.Fatal(err)
	}
	// The client reads nothing from here on.
	select {
	case <-returned:
	case <-time.After(20 * time.Second):
		t.Fatal("the forwarding handler still holds a stream its client stopped reading")
	}
}
