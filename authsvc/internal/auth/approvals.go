package auth

import (
	"encoding/json"
	"slices"
	"strings"
)

// approval is one consent a user gave a client: a scope for a set of resources (MCP
// services). A client approved for one service must ask again for another: the
// resources are part of what the user saw and approved.
type approval struct {
	Scope     string   `json:"scope"`
	Resources []string `json:"resources"`
}

// maxApprovals bounds what is remembered per user and client (the oldest go first).
const maxApprovals = 16

// defaultResource stands for "no resource parameter" (the default audience).
const defaultResource = ""

func requestResources(resources []string) []string {
	if len(resources) == 0 {
		return []string{defaultResource}
	}
	return resources
}

// readApprovals reads the stored approvals. A value written before resources were
// remembered (a bare scope) approved that scope for the default audience only.
func readApprovals(stored string) []approval {
	if !strings.HasPrefix(stored, "[") {
		if stored == "" {
			return nil
		}
		return []approval{{Scope: stored, Resources: []string{defaultResource}}}
	}
	var out []approval
	_ = json.Unmarshal([]byte(stored), &out)
	return out
}

// approved reports whether one remembered approval covers the request's scope and every
// one of its resources.
func Approved(stored, scope string, resources []string) bool {
	want := requestResources(resources)
	for _, a := range readApprovals(stored) {
		if !ScopeCovers(a.Scope, scope) {
			continue
		}
		all := true
		for _, r := range want {
			if !slices.Contains(a.Resources, r) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// withApproval returns the stored value with a new approval added; approvals it covers
// are dropped.
func WithApproval(stored, scope string, resources []string) string {
	add := approval{Scope: scope, Resources: requestResources(resources)}
	kept := []approval{}
	for _, a := range readApprovals(stored) {
		if Approved(mustJSON([]approval{add}), a.Scope, resourcesOf(a)) {
			continue // the new one covers it
		}
		kept = append(kept, a)
	}
	kept = append(kept, add)
	if len(kept) > maxApprovals {
		kept = kept[len(kept)-maxApprovals:]
	}
	return mustJSON(kept)
}

// resourcesOf turns an approval's resources back into a request's.
func resourcesOf(a approval) []string {
	if len(a.Resources) == 1 && a.Resources[0] == defaultResource {
		return nil
	}
	return a.Resources
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("authorize: encoding approvals: " + err.Error())
	}
	return string(b)
}
