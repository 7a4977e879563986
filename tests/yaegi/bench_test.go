package yaegi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib"

	"github.com/mcp-oauth-gateway/gateway/internal/testsupport/jwtvectors"
)

// cpuTimer reports CPU time per operation (user+system of the whole process), which
// a busy shared machine disturbs far less than wall time.
type cpuTimer struct{ start time.Duration }

func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU(b *testing.B) *cpuTimer {
	b.ResetTimer()
	return &cpuTimer{start: cpuNow()}
}

func (c *cpuTimer) stop(b *testing.B) {
	b.StopTimer()
	b.ReportMetric(float64(cpuNow()-c.start)/float64(b.N), "cpu-ns/op")
}

type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

func benchHandler(b *testing.B, change func(map[string]any)) http.Handler {
	p := loaded
	if loadErr != nil {
		b.Fatal(loadErr)
	}
	m := keys.ConfigMap(jwtvectors.ModeJWKS, "")
	delete(m, "corsAllowedOrigins")
	if change != nil {
		change(m)
	}
	conf, err := viaFileProvider(m)
	if err != nil {
		b.Fatal(err)
	}
	h, err := p.newHandler(context.Background(), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), conf, "bench")
	if err != nil {
		b.Fatal(err)
	}
	return h
}

func request(token string) *http.Request {
	r := httptest.NewRequest("POST", "http://mcp.test.example/mcp", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	r.Header.Set("User-Agent", "bench")
	r.Header.Set("X-Forwarded-For", "127.0.0.1")
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("X-Forwarded-Host", "mcp.test.example")
	r.Header.Set("Accept", "application/json, text/event-stream")
	r.Header.Set("Content-Type", "application/json")
	return r
}

// resetHeaders undoes what the previous iteration's middleware did, as a fresh
// request from Traefik would look.
func resetHeaders(r *http.Request, token string) {
	for _, hc := range jwtvectors.IdentityHeaders {
		delete(r.Header, hc[0])
	}
	r.Header["Authorization"] = []string{"Bearer " + token}
}

// benchCached measures h on one token it has already verified once: the cached path.
func benchCached(b *testing.B, h http.Handler, token string) {
	w := &nopWriter{h: http.Header{}}
	r := request(token)
	h.ServeHTTP(w, r)
	c := startCPU(b)
	for i := 0; i < b.N; i++ {
		resetHeaders(r, token)
		h.ServeHTTP(w, r)
	}
	c.stop(b)
}

// BenchmarkCachedToken is the hot path under Yaegi: a token seen before.
func BenchmarkCachedToken(b *testing.B) {
	h := benchHandler(b, nil)
	token := keys.Valid(time.Now(), "b")
	benchCached(b, h, token)
}

// BenchmarkCachedTokenSigned is the hot path with identitySecret set: the identity
// headers are signed for the bridge on every request.
func BenchmarkCachedTokenSigned(b *testing.B) {
	h := benchHandler(b, func(m map[string]any) { m["identitySecret"] = jwtvectors.IdentitySecret })
	token := keys.Valid(time.Now(), "b")
	benchCached(b, h, token)
}

// BenchmarkNeverSeenRS256 verifies a new RS256 token every time under Yaegi (run it
// with -benchtime Nx: it mints N tokens first).
func BenchmarkNeverSeenRS256(b *testing.B) { runNeverSeen(b, nil) }

func runNeverSeen(b *testing.B, change func(map[string]any)) {
	h := benchHandler(b, change)
	tokens := make([]string, b.N)
	for i := range tokens {
		tokens[i] = keys.Valid(time.Now(), fmt.Sprintf("n%d", i))
	}
	w := &nopWriter{h: http.Header{}}
	r := request(tokens[0])
	c := startCPU(b)
	for i := 0; i < b.N; i++ {
		resetHeaders(r, tokens[i])
		h.ServeHTTP(w, r)
	}
	c.stop(b)
}

// BenchmarkNoopMiddleware is the floor: an interpreted middleware that only calls next.
func BenchmarkNoopMiddleware(b *testing.B) {
	i := interp.New(interp.Options{})
	if err := i.Use(stdlib.Symbols); err != nil {
		b.Fatal(err)
	}
	if _, err := i.Eval(`package noop
import "net/http"
type M struct{ next http.Handler }
func (m *M) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.next.ServeHTTP(w, r) }
func New(next http.Handler) http.Handler { return &M{next: next} }`); err != nil {
		b.Fatal(err)
	}
	v, err := i.Eval("noop.New")
	if err != nil {
		b.Fatal(err)
	}
	h := v.Interface().(func(http.Handler) http.Handler)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	w := &nopWriter{h: http.Header{}}
	r := request("x")
	c := startCPU(b)
	for n := 0; n < b.N; n++ {
		h.ServeHTTP(w, r)
	}
	c.stop(b)
}

// BenchmarkCachedTokenRemote is CachedToken with a JWKS URL and a revocation feed
// that has entries, as in production.
func BenchmarkCachedTokenRemote(b *testing.B) {
	srv := feedAndKeys()
	defer srv.Close()
	h := benchHandler(b, remoteConfig(srv.URL))
	token := keys.Valid(time.Now(), "cr")
	benchCached(b, h, token)
}

func feedAndKeys() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/jwks") {
			_, _ = w.Write([]byte(keys.JWKS()))
			return
		}
		_, _ = w.Write([]byte(`{"cursor":"1","reset":true,"tokens":[{"jti":"x","exp":9999999999}],"users":[],"clients":[]}`))
	}))
}

func remoteConfig(base string) func(map[string]any) {
	return func(m map[string]any) {
		delete(m, "jwks")
		m["jwksURL"] = base + "/jwks"
		m["revocationURL"] = base + "/feed"
		m["revocationInterval"] = "1s"
	}
}

// BenchmarkNeverSeenRS256Remote is NeverSeenRS256 configured as in production: keys
// from a JWKS URL and a revocation feed.
func BenchmarkNeverSeenRS256Remote(b *testing.B) {
	srv := feedAndKeys()
	defer srv.Close()
	runNeverSeen(b, remoteConfig(srv.URL))
}

// BenchmarkNeverSeenRS256Parallel runs NeverSeenRS256 from 32 goroutines, as a
// loaded Traefik would: contention inside the plugin or Yaegi shows here.
func BenchmarkNeverSeenRS256Parallel(b *testing.B) {
	h := benchHandler(b, nil)
	tokens := make([]string, b.N+64)
	for i := range tokens {
		tokens[i] = keys.Valid(time.Now(), fmt.Sprintf("p%d", i))
	}
	var next int64
	var mu sync.Mutex
	c := startCPU(b)
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		w := &nopWriter{h: http.Header{}}
		for pb.Next() {
			mu.Lock()
			i := next
			next++
			mu.Unlock()
			r := request(tokens[i])
			h.ServeHTTP(w, r)
		}
	})
	c.stop(b)
}
