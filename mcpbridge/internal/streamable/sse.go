package streamable

import (
	"bufio"
	"net/http"
	"strconv"
	"time"
)

// sseWriter writes Server-Sent Events: one `message` event per JSON-RPC message, as the
// Streamable HTTP transport frames them. JSON-RPC messages are compacted JSON, so a
// message is always a single `data:` line.
type sseWriter struct {
	w  *bufio.Writer
	rc *http.ResponseController
}

func newSSEWriter(w http.ResponseWriter) *sseWriter {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache, no-transform")
	// Tell buffering proxies (nginx and friends) to pass events through at once.
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	return &sseWriter{w: bufio.NewWriterSize(w, 16<<10), rc: http.NewResponseController(w)}
}

// retryMillis is the reconnection delay suggested to clients whose stream drops.
const retryMillis = 500

// Prime queues the event that opens a stream: its id, a reconnection delay and no data,
// so a client can resume with Last-Event-ID even if the connection drops before the
// first message (SEP-1699).
func (s *sseWriter) Prime(id string) {
	s.w.WriteString("id: ")
	s.w.WriteString(id)
	s.w.WriteString("\nretry: ")
	s.w.WriteString(strconv.Itoa(retryMillis))
	s.w.WriteString("\ndata: \n\n")
}

// Write queues one message event with its id; Flush sends what is queued.
func (s *sseWriter) Write(id string, msg []byte) {
	if id != "" {
		s.w.WriteString("id: ")
		s.w.WriteString(id)
		s.w.WriteString("\n")
	}
	s.w.WriteString("event: message\ndata: ")
	s.w.Write(msg)
	s.w.WriteString("\n\n")
}

// Comment queues an SSE comment, which clients ignore: it keeps idle connections alive
// through proxies and detects clients that went away.
func (s *sseWriter) Comment(text string) {
	s.w.WriteString(": ")
	s.w.WriteString(text)
	s.w.WriteString("\n\n")
}

// writeTimeout bounds one flush: a client that stops reading its stream (its TCP window
// full) loses the stream instead of holding it, and what it pins, for ever.
const writeTimeout = 30 * time.Second

// Flush sends the queued events to the client.
func (s *sseWriter) Flush() error {
	_ = s.rc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err := s.w.Flush(); err != nil {
		return err
	}
	return s.rc.Flush()
}
