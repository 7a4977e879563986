package httpapi

import (
	"html/template"
	"log/slog"
	"net/http"
)

// The pages authsvc shows a human. html/template escapes every value by context, so
// a client_name with markup, script or bidi controls is shown as inert text. No page
// loads any script, style sheet or image: the CSP below forbids all of them.
var pages = template.Must(template.New("pages").Parse(`
{{define "head"}}<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{.}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;line-height:1.5}
.box{border:1px solid #ccc;border-radius:8px;padding:1rem 1.5rem}dt{font-weight:600}dd{margin:0 0 .6rem 0;word-break:break-all;unicode-bidi:isolate}#loopback-warning{word-break:normal;overflow-wrap:anywhere;background:#fff4d6;border-left:4px solid #d9a400;padding:.4rem .6rem}
button{font-size:1rem;padding:.5rem 1.2rem;margin-right:.5rem}</style></head><body>{{end}}

{{define "error"}}{{template "head" .Title}}
<div class="box"><h1>{{.Title}}</h1><p id="message">{{.Message}}</p><p id="hint">{{.Hint}}</p></div>
</body></html>{{end}}

{{define "consent"}}{{template "head" "Authorize access"}}
<div class="box">
<h1>Authorize <bdi id="client-name">{{.ClientName}}</bdi>?</h1>
<p>You are signed in as <b id="login">{{.Login}}</b>. This application asks to act as you on the services below.</p>
<dl>
<dt>Application</dt><dd><bdi id="client-name-detail">{{.ClientName}}</bdi> <small>(client id <code>{{.ClientID}}</code>)</small></dd>
<dt>After approval you are sent to</dt><dd id="redirect-host">{{.RedirectHost}}</dd>
{{if .Loopback}}<dd id="loopback-warning"><strong>This is a program on your own computer.</strong> Any program there can claim to be {{.ClientName}}: approve only if you started this connection yourself, just now.</dd>{{end}}
<dt>Services</dt><dd id="resources">{{range .Resources}}<div>{{.}}</div>{{else}}<div>the default audience</div>{{end}}</dd>
<dt>Scope</dt><dd id="scope">{{if .Scope}}{{.Scope}}{{else}}(none requested){{end}}</dd>
</dl>
<p>Only approve applications you set up yourself. If you did not start this, deny.</p>
<form method="post" action="/consent">
<input type="hidden" name="consent_id" value="{{.ConsentID}}">
<input type="hidden" name="csrf_token" value="{{.CSRF}}">
<button id="approve" type="submit" name="decision" value="approve">Approve</button>
<button id="deny" type="submit" name="decision" value="deny">Deny</button>
</form></div></body></html>{{end}}
`))

// pageCSP forbids scripts, framing, plugins and base-URI tricks. form-action is left
// out on purpose: browsers apply it to the redirect after the form is posted, and that
// redirect goes to the client's own redirect URI.
const pageCSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"

type errorPage struct {
	Title, Message, Hint string
}

type consentPage struct {
	ClientName, ClientID, Login, RedirectHost, Scope, ConsentID, CSRF string
	Resources                                                         []string
	// Loopback: the redirect goes to this computer (localhost, 127.0.0.1, [::1]), which
	// no registration or metadata document can vouch for.
	Loopback bool
}

func render(w http.ResponseWriter, log *slog.Logger, status int, name string, data any) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, name, data); err != nil {
		log.Error("render page", "page", name, "error", err)
	}
}

func showError(w http.ResponseWriter, log *slog.Logger, status int, title, message, hint string) {
	render(w, log, status, "error", errorPage{Title: title, Message: message, Hint: hint})
}
