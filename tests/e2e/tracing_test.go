package e2e

import (
	"compress/gzip"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpSpan is one span the receiver got: its trace, its id and its parent's, the
// service that made it, its name.
type otlpSpan struct{ trace, id, parent, service, name string }

// otlpReceiver is a local OTLP/HTTP traces endpoint (the protocol every OpenTelemetry
// SDK and Traefik export with): it decodes ExportTraceServiceRequest messages and keeps
// the spans.
type otlpReceiver struct {
	srv   *http.Server
	URL   string // the traces endpoint, …/v1/traces
	mu    sync.Mutex
	spans []otlpSpan
}

func startOTLPReceiver() (*otlpReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &otlpReceiver{URL: "http://" + ln.Addr().String() + "/v1/traces"}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

func (r *otlpReceiver) serve(w http.ResponseWriter, req *http.Request) {
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(io.LimitReader(body, 16<<20))
	var msg coltrace.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(b, &msg)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	for _, rs := range msg.ResourceSpans {
		service := ""
		for _, a := range rs.GetResource().GetAttributes() {
			if a.Key == "service.name" {
				service = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				r.spans = append(r.spans, otlpSpan{hex.EncodeToString(s.TraceId), hex.EncodeToString(s.SpanId),
					hex.EncodeToString(s.ParentSpanId), service, s.Name})
			}
		}
	}
	r.mu.Unlock()
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// trace returns the spans of trace id, as "service: name", sorted.
func (r *otlpReceiver) trace(id string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, s := range r.spans {
		if s.trace == id {
			out = append(out, s.service+": "+s.name)
		}
	}
	sort.Strings(out)
	return out
}

// parentOf returns "service: name" of the parent of the span of trace id whose
// "service: name" is child, or "" when it has none the receiver got.
func (r *otlpReceiver) parentOf(id, child string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.spans {
		if c.trace != id || c.service+": "+c.name != child {
			continue
		}
		for _, p := range r.spans {
			if p.trace == id && p.id == c.parent {
				return p.service + ": " + p.name
			}
		}
	}
	return ""
}

func (r *otlpReceiver) close() { _ = r.srv.Close() }

// TestTracing: one request through the gateway is one trace, joined by W3C trace
// context, with spans from Traefik and the service behind it: an MCP call yields
// Traefik's and the bridge's spans, a token request Traefik's and authsvc's. The client
// starts the trace (a traceparent header) so that the test can find it.
func TestTracing(t *testing.T) {
	ctx := testContext(t)
	mcpURL := stack.MCPURL("everything")
	tok := userToken(t, ctx, alice, mcpURL)
	check := func(name, method, u, body, contentType string, hdr http.Header, want ...string) {
		t.Run(name, func(t *testing.T) {
			traceID := fmt.Sprintf("%032x", time.Now().UnixNano())
			req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header = hdr.Clone()
			req.Header.Set("Content-Type", contentType)
			req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
			resp, err := httpClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			eventually(t, 30*time.Second, "the trace's spans", func() (bool, string) {
				spans := strings.Join(traces.trace(traceID), "\n")
				for _, w := range want {
					if !strings.Contains(spans, w) {
						return false, "have:\n" + spans
					}
				}
				return true, ""
			})
			t.Logf("trace %s:\n  %s", traceID, strings.Join(traces.trace(traceID), "\n  "))
			// The service's span is a child of one of Traefik's: the context went
			// through Traefik, not around it.
			service := want[len(want)-1]
			if p := traces.parentOf(traceID, service); !strings.HasPrefix(p, "traefik: ") {
				t.Errorf("the parent of %q is %q, want one of Traefik's spans", service, p)
			}
		})
	}
	hdr := http.Header{"Authorization": {"Bearer " + tok.Token.AccessToken}, "Accept": {"application/json, text/event-stream"}}
	check("MCP call", http.MethodPost, mcpURL, initializeBody, "application/json", hdr,
		"traefik: ", "mcpbridge: POST /mcp")
	check("token request", http.MethodPost, stack.Issuer+"/token", "grant_type=refresh_token&refresh_token=rt-none&client_id=none",
		"application/x-www-form-urlencoded", http.Header{}, "traefik: ", "authsvc: POST /token")
}
