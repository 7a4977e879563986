package streamable

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestLoneWritesWholeResponse: what deliver writes reaches the client complete while
// the handler has not returned yet (the point of writing it from the child's side);
// after end, or for a large answer, deliver declines.
func TestLoneWritesWholeResponse(t *testing.T) {
	answer := []byte(`{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found"}}`)
	received := make(chan struct{})
	results := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w}
		ln := newLone(rec, writeModernJSON)
		if ln.deliver(bytes.Repeat([]byte("x"), loneMax+1)) {
			results <- "deliver took an answer larger than loneMax"
			return
		}
		go ln.deliver(answer)
		select {
		case <-received: // the client has the whole answer; this handler is still running
		case <-time.After(10 * time.Second):
			results <- "the client did not get the answer while the handler was running"
			return
		}
		taken, err := ln.end()
		switch {
		case !taken || err != nil:
			results <- "end: taken " + map[bool]string{true: "true", false: "false"}[taken]
		case ln.deliver(answer):
			results <- "deliver wrote after end"
		case rec.status != http.StatusNotFound:
			results <- "recorder status not kept"
		default:
			results <- ""
		}
	}))
	defer srv.Close()
	resp, err := http.Post(srv.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	close(received)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, answer) || resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("got %d %q %s; want 404 application/json and the answer", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if msg := <-results; msg != "" {
		t.Error(msg)
	}
}
