package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// largeMessages measures what one client's large messages do to another client's
// small calls on the same bridge, with the bridge's default number of threads and with
// --gomaxprocs 1 (the price of the one-thread setting): one client echoes
// o.largeSize-byte messages in a loop (the bridge checks each on the way in and on the
// way out), while another makes o.largeCalls small calls, 2 ms apart. The server must
// have the echo tool (server-everything).
func largeMessages(o options, argv []string) error {
	fmt.Printf("## small calls while another client echoes %d MiB messages (server-everything)\n\n", o.largeSize>>20)
	fmt.Printf("%d small echo calls 2 ms apart per row, on a 2025-11-25 session; another session of the same bridge echoes the large messages in a loop, or stays idle\n\n", o.largeCalls)
	fmt.Println("| bridge | other client | small calls p50 | p99 | max | large messages echoed |")
	fmt.Println("|---|---|---|---|---|---|")
	large := `{"name":"echo","arguments":{"message":"` + strings.Repeat("x", o.largeSize) + `"}}`
	small := `{"name":"echo","arguments":{"message":"hi"}}`
	for _, flags := range [][]string{nil, {"--gomaxprocs", "1"}} {
		b, err := startBridge(o.bridge, argv, flags...)
		if err != nil {
			return err
		}
		name := "default"
		if flags != nil {
			name = strings.Join(flags, " ")
		}
		for _, load := range []bool{false, true} {
			lat, echoed, err := smallCallsBeside(o, b.url, small, large, load)
			if err != nil {
				b.stop()
				return err
			}
			other := "idle"
			if load {
				other = "echoing large messages"
			}
			fmt.Printf("| %s | %s | %s | %s | %s | %d |\n", name, other, ms(lat[len(lat)/2]), ms(lat[len(lat)*99/100]), ms(lat[len(lat)-1]), echoed)
		}
		b.stop()
	}
	fmt.Println()
	return nil
}

// smallCallsBeside times o.largeCalls small calls at url, with another session
// echoing large messages meanwhile if load; it returns the sorted latencies and how
// many large messages were echoed.
func smallCallsBeside(o options, url, small, large string, load bool) ([]time.Duration, int64, error) {
	c, err := newHTTPClient(url, small)
	if err != nil {
		return nil, 0, err
	}
	defer c.close()
	var echoed atomic.Int64
	var loadErr error
	var wg sync.WaitGroup
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	if load {
		big, err := newHTTPClient(url, large)
		if err != nil {
			return nil, 0, err
		}
		defer big.close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := big.call(ctx); err != nil {
					loadErr = err
					return
				}
				echoed.Add(1)
			}
		}()
	}
	lat := make([]time.Duration, 0, o.largeCalls)
	for range o.largeCalls {
		start := time.Now()
		if err := c.call(ctx); err != nil {
			return nil, 0, err
		}
		lat = append(lat, time.Since(start))
		time.Sleep(2 * time.Millisecond)
	}
	stop()
	wg.Wait()
	if loadErr != nil {
		return nil, 0, fmt.Errorf("large messages: %w", loadErr)
	}
	slices.Sort(lat)
	return lat, echoed.Load(), nil
}
