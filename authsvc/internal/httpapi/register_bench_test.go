package httpapi

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// BenchmarkRegister measures POST /register end to end over loopback HTTP against the
// real Redis of this test binary: parse, validate, generate and hash secrets, SET NX
// with TTL, index. `just bench-authsvc` runs it and prints registrations/s.
func BenchmarkRegister(b *testing.B) {
	b.Run("sequential", func(b *testing.B) { registerBench(b, false) })
	b.Run("parallel", func(b *testing.B) { registerBench(b, true) })
}

func registerBench(b *testing.B, parallel bool) {
	e := newEnv(b, registerOptions{ClientLifetime: time.Hour})
	body := `{"redirect_uris":["https://app.example.com/callback","http://127.0.0.1:33418/cb"],"client_name":"bench","grant_types":["authorization_code","refresh_token"],"token_endpoint_auth_method":"none","scope":"mcp"}`
	tr := &http.Transport{MaxIdleConnsPerHost: 256}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	post := func() {
		resp, err := client.Post(e.srv.URL+"/register", "application/json", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	start := time.Now()
	n := 0
	if parallel {
		b.SetParallelism(8)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				post()
			}
		})
		n = b.N
	} else {
		for b.Loop() {
			post()
			n++
		}
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "registrations/s")
}
