package jsonrpc

import (
	"encoding/json"
	"errors"
)

// span is the [start, end) byte range of a value inside a message.
type span struct{ start, end int }

func (s span) ok() bool { return s.end > s.start }

// errScan means the bytes are not the JSON the scanner expects. Callers validate with
// encoding/json first, so it only guards against misuse.
var errScan = errors.New("jsonrpc: malformed JSON")

// scanObject calls visit with each top-level member of the JSON object in data (which
// must be valid JSON), giving the key and the span of its value. Keys written with
// escapes are decoded, so `"\u0069d"` is the key id, as any JSON parser reads it.
func scanObject(data []byte, visit func(key string, value span)) error {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return errScan
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return nil
	}
	for i < len(data) {
		if data[i] != '"' {
			return errScan
		}
		end, err := skipString(data, i)
		if err != nil {
			return err
		}
		key, err := decodeKey(data[i:end])
		if err != nil {
			return err
		}
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return errScan
		}
		start := skipSpace(data, i+1)
		valueEnd, err := skipValue(data, start)
		if err != nil {
			return err
		}
		visit(key, span{start, valueEnd})
		i = skipSpace(data, valueEnd)
		if i >= len(data) {
			return errScan
		}
		switch data[i] {
		case '}':
			return nil
		case ',':
			i = skipSpace(data, i+1)
		default:
			return errScan
		}
	}
	return errScan
}

func decodeKey(quoted []byte) (string, error) {
	for _, c := range quoted[1 : len(quoted)-1] {
		if c == '\\' {
			var s string
			if err := json.Unmarshal(quoted, &s); err != nil {
				return "", errScan
			}
			return s, nil
		}
	}
	return string(quoted[1 : len(quoted)-1]), nil
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index just past the string starting at data[i] == '"'.
func skipString(data []byte, i int) (int, error) {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, errScan
}

// skipValue returns the index just past the value starting at data[i].
func skipValue(data []byte, i int) (int, error) {
	if i >= len(data) {
		return 0, errScan
	}
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '"':
				end, err := skipString(data, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errScan
	default: // number, true, false, null
		j := i
		for j < len(data) {
			switch data[j] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return j, nil
			}
			j++
		}
		return j, nil
	}
}
