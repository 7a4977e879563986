module github.com/mcp-oauth-gateway/gateway/tests

go 1.26.0

replace github.com/mcp-oauth-gateway/gateway => ../

require (
	github.com/chromedp/cdproto v0.159.0 // indirect
	github.com/chromedp/chromedp v0.23.0 // indirect
	github.com/compose-spec/compose-go/v2 v2.16.2 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	github.com/mcp-oauth-gateway/gateway v0.0.0-00010101000000-000000000000 // indirect
	github.com/modelcontextprotocol/go-sdk v1.8.0 // indirect
	github.com/traefik/paerser v0.2.2 // indirect
	github.com/traefik/yaegi v0.16.1 // indirect
)
