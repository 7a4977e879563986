package streamable

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// paramHeaders knows, per tool, which arguments its inputSchema mirrors into
// Mcp-Param-{Name} headers (the x-mcp-header annotation of 2026-07-28), learnt from the
// tools/list answers that pass through the bridge. A 2026-07-28 tools/call of such a
// tool must carry each header exactly when the argument has a value, and the header
// (after Base64 decoding) must equal it: the server behind the bridge reads only the
// body, while intermediaries may act on the headers.
type paramHeaders struct {
	mu    sync.RWMutex
	tools map[string][]paramHeader
}

type paramHeader struct {
	name string   // the part after Mcp-Param-
	path []string // property names from the arguments object down to the value
}

// observe records the annotations of a tools/list result.
func (p *paramHeaders) observe(result json.RawMessage) {
	var res struct {
		Tools []struct {
			Name        string          `json:"name"`
			InputSchema json.RawMessage `json:"inputSchema"`
		} `json:"tools"`
	}
	if json.Unmarshal(result, &res) != nil {
		return
	}
	found := map[string][]paramHeader{}
	for _, t := range res.Tools {
		var hs []paramHeader
		collectParamHeaders(t.InputSchema, nil, &hs, 0)
		found[t.Name] = hs
	}
	p.mu.Lock()
	if p.tools == nil {
		p.tools = map[string][]paramHeader{}
	}
	for name, hs := range found {
		if len(hs) == 0 {
			delete(p.tools, name)
		} else {
			p.tools[name] = hs
		}
	}
	p.mu.Unlock()
}

// collectParamHeaders walks a schema's properties (nested objects too, bounded depth).
func collectParamHeaders(schema json.RawMessage, path []string, out *[]paramHeader, depth int) {
	if depth > 8 {
		return
	}
	var s struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if json.Unmarshal(schema, &s) != nil {
		return
	}
	names := make([]string, 0, len(s.Properties))
	for n := range s.Properties {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		prop := s.Properties[n]
		var ann struct {
			Header string `json:"x-mcp-header"`
		}
		at := append(append([]string(nil), path...), n)
		if json.Unmarshal(prop, &ann) == nil && ann.Header != "" {
			*out = append(*out, paramHeader{name: ann.Header, path: at})
		}
		collectParamHeaders(prop, at, out, depth+1)
	}
}

// check validates the Mcp-Param-* headers of a tools/call of tool with args; it returns
// what is wrong, or "".
func (p *paramHeaders) check(h http.Header, tool string, args json.RawMessage) string {
	p.mu.RLock()
	hs := p.tools[tool]
	p.mu.RUnlock()
	for _, ph := range hs {
		raw, present := h["Mcp-Param-"+canonicalSuffix(ph.name)]
		value, hasValue := valueAt(args, ph.path)
		header := "Mcp-Param-" + ph.name
		switch {
		case !present && hasValue:
			return fmt.Sprintf("the %s header is required: argument %s has a value", header, strings.Join(ph.path, "."))
		case present && !hasValue:
			return fmt.Sprintf("the %s header is sent but argument %s has no value", header, strings.Join(ph.path, "."))
		case !present:
			continue
		}
		got, ok := decodeHeaderValue(raw[0])
		if !ok {
			return fmt.Sprintf("the %s header value is malformed", header)
		}
		if !sameValue(got, value) {
			return fmt.Sprintf("%s header value %q does not match argument %s", header, got, strings.Join(ph.path, "."))
		}
	}
	return ""
}

// canonicalSuffix is how net/http spells the rest of a header name.
func canonicalSuffix(name string) string {
	return strings.TrimPrefix(http.CanonicalHeaderKey("Mcp-Param-"+name), "Mcp-Param-")
}

// valueAt reads args at path; null counts as no value.
func valueAt(args json.RawMessage, path []string) (json.RawMessage, bool) {
	cur := args
	for _, key := range path {
		var obj map[string]json.RawMessage
		if json.Unmarshal(cur, &obj) != nil {
			return nil, false
		}
		v, ok := obj[key]
		if !ok {
			return nil, false
		}
		cur = v
	}
	if len(cur) == 0 || string(cur) == "null" {
		return nil, false
	}
	return cur, true
}

// sameValue compares a decoded header with a JSON value: strings as they are, numbers
// numerically, booleans as true/false.
func sameValue(header string, value json.RawMessage) bool {
	switch value[0] {
	case '"':
		var s string
		return json.Unmarshal(value, &s) == nil && s == header
	case 't', 'f':
		return header == string(value)
	default:
		a, err1 := strconv.ParseFloat(header, 64)
		b, err2 := strconv.ParseFloat(string(value), 64)
		return err1 == nil && err2 == nil && a == b
	}
}
