package labels

import (
	"errors"
	"fmt"
	"strings"
)

// ErrRule is wrapped by every rule parsing error.
var ErrRule = errors.New("router rule")

// Rule is a parsed Traefik v3 router rule, limited to the matchers this stack uses:
// Host, Path and PathPrefix, joined with &&, || and !, grouped with parentheses. Each
// matcher takes exactly one argument, in backquotes or double quotes, as Traefik v3's
// syntax requires (v2's PathPrefix(`/a`, `/b`) is refused, as v3 refuses it).
type Rule struct {
	root ruleNode
}

// Request is what a rule is evaluated against.
type Request struct {
	Host string // without port
	Path string
}

type ruleNode interface {
	match(Request) bool
}

type andNode struct{ l, r ruleNode }
type orNode struct{ l, r ruleNode }
type notNode struct{ n ruleNode }
type matcher struct {
	name string
	arg  string
}

func (n andNode) match(q Request) bool { return n.l.match(q) && n.r.match(q) }
func (n orNode) match(q Request) bool  { return n.l.match(q) || n.r.match(q) }
func (n notNode) match(q Request) bool { return !n.n.match(q) }

// match follows Traefik v3's muxer: Host compares case-insensitively (and a request
// host's port is ignored by the caller), Path is an exact match, PathPrefix a plain
// string prefix of the path.
func (m matcher) match(q Request) bool {
	switch m.name {
	case "Host":
		return strings.EqualFold(m.arg, q.Host)
	case "Path":
		return q.Path == m.arg
	case "PathPrefix":
		return strings.HasPrefix(q.Path, m.arg)
	}
	return false
}

// ParseRule parses a router rule.
func ParseRule(s string) (*Rule, error) {
	p := &ruleParser{src: s}
	n, err := p.or()
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrRule, s, err)
	}
	p.space()
	if p.pos != len(p.src) {
		return nil, fmt.Errorf("%w %q: unexpected %q at offset %d", ErrRule, s, p.src[p.pos:], p.pos)
	}
	return &Rule{root: n}, nil
}

// Match reports whether the rule matches the request.
func (r *Rule) Match(q Request) bool { return r.root.match(q) }

// Hosts lists the Host matcher arguments in the rule.
func (r *Rule) Hosts() []string {
	var hosts []string
	walk(r.root, func(m matcher) {
		if m.name == "Host" {
			hosts = append(hosts, m.arg)
		}
	})
	return hosts
}

func walk(n ruleNode, f func(matcher)) {
	switch n := n.(type) {
	case andNode:
		walk(n.l, f)
		walk(n.r, f)
	case orNode:
		walk(n.l, f)
		walk(n.r, f)
	case notNode:
		walk(n.n, f)
	case matcher:
		f(n)
	}
}

type ruleParser struct {
	src string
	pos int
}

func (p *ruleParser) space() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t' || p.src[p.pos] == '\n') {
		p.pos++
	}
}

func (p *ruleParser) eat(tok string) bool {
	p.space()
	if strings.HasPrefix(p.src[p.pos:], tok) {
		p.pos += len(tok)
		return true
	}
	return false
}

func (p *ruleParser) or() (ruleNode, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.eat("||") {
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = orNode{l, r}
	}
	return l, nil
}

func (p *ruleParser) and() (ruleNode, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.eat("&&") {
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = andNode{l, r}
	}
	return l, nil
}

func (p *ruleParser) unary() (ruleNode, error) {
	if p.eat("!") {
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		return notNode{n}, nil
	}
	if p.eat("(") {
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.eat(")") {
			return nil, fmt.Errorf("missing ) at offset %d", p.pos)
		}
		return n, nil
	}
	return p.matcher()
}

func (p *ruleParser) matcher() (ruleNode, error) {
	p.space()
	start := p.pos
	for p.pos < len(p.src) && isIdent(p.src[p.pos]) {
		p.pos++
	}
	name := p.src[start:p.pos]
	switch name {
	case "Host", "Path", "PathPrefix":
	case "":
		return nil, fmt.Errorf("expected a matcher at offset %d", start)
	default:
		return nil, fmt.Errorf("unknown or unsupported matcher %s (this stack uses Host, Path, PathPrefix)", name)
	}
	if !p.eat("(") {
		return nil, fmt.Errorf("%s: missing ( at offset %d", name, p.pos)
	}
	arg, err := p.str()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if p.eat(",") {
		return nil, fmt.Errorf("%s takes exactly one argument in Traefik v3 (join matchers with ||)", name)
	}
	if !p.eat(")") {
		return nil, fmt.Errorf("%s: missing ) at offset %d", name, p.pos)
	}
	if arg == "" {
		return nil, fmt.Errorf("%s: empty argument", name)
	}
	if (name == "Path" || name == "PathPrefix") && !strings.HasPrefix(arg, "/") {
		return nil, fmt.Errorf("%s(%q): path must start with /", name, arg)
	}
	return matcher{name: name, arg: arg}, nil
}

func (p *ruleParser) str() (string, error) {
	p.space()
	if p.pos >= len(p.src) || (p.src[p.pos] != '`' && p.src[p.pos] != '"') {
		return "", fmt.Errorf("expected a quoted argument at offset %d", p.pos)
	}
	q := p.src[p.pos]
	end := strings.IndexByte(p.src[p.pos+1:], q)
	if end < 0 {
		return "", fmt.Errorf("unterminated argument at offset %d", p.pos)
	}
	s := p.src[p.pos+1 : p.pos+1+end]
	p.pos += end + 2
	return s, nil
}

func isIdent(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}
