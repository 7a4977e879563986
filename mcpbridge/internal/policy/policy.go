// Package policy decides which tools of the wrapped MCP server a caller may use, from the
// identity the mcpauth plugin injects (X-User-Id, X-User-Login, X-Auth-Scopes).
//
// A policy is a list of rules separated by ";", each `TOOLS=WHO`: TOOLS is a
// comma-separated list of tool names, where `*` in a name matches any run of characters;
// WHO is a comma-separated list of `scope:NAME` (the token carries that scope),
// `user:LOGIN` (the GitHub login), `id:ID` (the stable user id), `any` or `none`. For a
// tool, the first rule whose TOOLS matches decides: the caller may use it when they match
// one entry of WHO. A tool no rule names is allowed, so the empty policy allows everything;
// end with `*=none` to allow only what the rules name.
//
//	write_file,edit_file,move_file=scope:fs.write; delete_*=user:alice; *=any
package policy

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
)

// Caller is who makes a request, as the plugin's identity headers say.
type Caller struct {
	ID, Login string
	Scopes    []string
}

// Policy is a parsed tool policy; the zero value (and nil) allows everything.
type Policy struct {
	rules []rule
}

type rule struct {
	tools []string // patterns
	who   []entry
	text  string // for reasons
}

type entry struct{ kind, value string }

// Parse reads a policy. Every mistake is reported, with the rule it is in.
func Parse(s string) (*Policy, error) {
	p := &Policy{}
	var problems []string
	for _, r := range strings.Split(s, ";") {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		tools, who, ok := strings.Cut(r, "=")
		if !ok {
			problems = append(problems, fmt.Sprintf("rule %q: want TOOLS=WHO", r))
			continue
		}
		ru := rule{text: r}
		for _, t := range strings.Split(tools, ",") {
			if t = strings.TrimSpace(t); t == "" {
				continue
			}
			if _, err := path.Match(strings.ReplaceAll(t, "/", "\x00"), ""); err != nil {
				problems = append(problems, fmt.Sprintf("rule %q: tool pattern %q: %v", r, t, err))
			}
			ru.tools = append(ru.tools, t)
		}
		for _, w := range strings.Split(who, ",") {
			w = strings.TrimSpace(w)
			kind, value, _ := strings.Cut(w, ":")
			switch {
			case w == "any" || w == "none":
				ru.who = append(ru.who, entry{kind: w})
			case (kind == "scope" || kind == "user" || kind == "id") && value != "":
				ru.who = append(ru.who, entry{kind, value})
			default:
				problems = append(problems, fmt.Sprintf("rule %q: %q is not scope:NAME, user:LOGIN, id:ID, any or none", r, w))
			}
		}
		if len(ru.tools) == 0 {
			problems = append(problems, fmt.Sprintf("rule %q: no tool named", r))
		}
		p.rules = append(p.rules, ru)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("tool policy: %s", strings.Join(problems, "; "))
	}
	return p, nil
}

// Active reports whether the policy restricts anything at all.
func (p *Policy) Active() bool { return p != nil && len(p.rules) > 0 }

// Allowed reports whether c may call tool and, when not, why (naming what is needed).
func (p *Policy) Allowed(tool string, c Caller) (bool, string) {
	if !p.Active() {
		return true, ""
	}
	for _, r := range p.rules {
		if !r.matches(tool) {
			continue
		}
		var needs []string
		for _, e := range r.who {
			switch e.kind {
			case "any":
				return true, ""
			case "none":
				needs = append(needs, "nobody may call it")
			case "scope":
				for _, s := range c.Scopes {
					if s == e.value {
						return true, ""
					}
				}
				needs = append(needs, "scope "+e.value)
			case "user":
				if c.Login == e.value {
					return true, ""
				}
				needs = append(needs, "user "+e.value)
			case "id":
				if c.ID == e.value {
					return true, ""
				}
				needs = append(needs, "user id "+e.value)
			}
		}
		return false, fmt.Sprintf("tool %q is not allowed for you by this server's tool policy (%s)", tool, strings.Join(needs, " or "))
	}
	return true, ""
}

func (r rule) matches(tool string) bool {
	for _, t := range r.tools {
		// path.Match treats "/" specially; tool names may contain it.
		if ok, _ := path.Match(strings.ReplaceAll(t, "/", "\x00"), strings.ReplaceAll(tool, "/", "\x00")); ok {
			return true
		}
	}
	return false
}

// FilterTools returns a tools/list result with only the tools c may call; a result it
// cannot read is returned as it is.
func (p *Policy) FilterTools(result json.RawMessage, c Caller) json.RawMessage {
	if !p.Active() {
		return result
	}
	var res map[string]json.RawMessage
	var tools []json.RawMessage
	if json.Unmarshal(result, &res) != nil || json.Unmarshal(res["tools"], &tools) != nil {
		return result
	}
	kept := make([]json.RawMessage, 0, len(tools))
	for _, t := range tools {
		var tool struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(t, &tool) == nil {
			if ok, _ := p.Allowed(tool.Name, c); ok {
				kept = append(kept, t)
			}
		}
	}
	res["tools"], _ = json.Marshal(kept)
	if _, ok := res["cacheScope"]; ok {
		// The list is this caller's: no shared cache may hand it to anyone else.
		res["cacheScope"] = json.RawMessage(`"private"`)
	}
	out, err := json.Marshal(res)
	if err != nil {
		return result
	}
	return out
}
