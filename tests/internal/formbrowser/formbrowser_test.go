package formbrowser

import "testing"

func TestParseForm(t *testing.T) {
	page := `<html><form method="get" action="/search"><button value="approve">x</button></form>
<form method="post" action="/consent">
<input type="hidden" name="consent_id" value="c&amp;1">
<input type="hidden" name="csrf_token" value="tok">
<input type="checkbox" name="remember" value="yes">
<button id="approve" type="submit" name="decision" value="approve">Approve</button>
<button id="deny" type="submit" name="decision" value="deny">Deny</button>
</form></html>`
	tests := []struct {
		decision string
		want     string
	}{
		{"approve", "consent_id=c%261&csrf_token=tok&decision=approve"},
		{"deny", "consent_id=c%261&csrf_token=tok&decision=deny"},
	}
	for _, tc := range tests {
		t.Run(tc.decision, func(t *testing.T) {
			f, err := parseForm(page, tc.decision)
			if err != nil {
				t.Fatal(err)
			}
			if f.action != "/consent" || f.values.Encode() != tc.want {
				t.Errorf("form = %s %s, want /consent %s", f.action, f.values.Encode(), tc.want)
			}
		})
	}
	if _, err := parseForm(page, "other"); err == nil {
		t.Error("parseForm found a button that does not exist")
	}
}
