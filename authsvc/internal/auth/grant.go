// What a token response issues.

package auth

// AccessRecord is the server-side record of one access token (JWT).
type AccessRecord struct {
	JTI       string   `json:"jti"`
	FamilyID  string   `json:"family_id"`
	ClientID  string   `json:"client_id"`
	Sub       string   `json:"sub"`
	Login     string   `json:"login"`
	Scope     string   `json:"scope"`
	Audience  []string `json:"aud"`
	IssuedAt  int64    `json:"iat"`
	ExpiresAt int64    `json:"exp"`
}

// RefreshRecord is one refresh token's grant. It carries what the next access token
// needs, so a refresh never consults the user again.
type RefreshRecord struct {
	FamilyID  string   `json:"family_id"`
	ClientID  string   `json:"client_id"`
	Sub       string   `json:"sub"`
	Login     string   `json:"login"`
	Name      string   `json:"name"`
	Scope     string   `json:"scope"`
	Audience  []string `json:"aud"`
	IssuedAt  int64    `json:"iat"`
	ExpiresAt int64    `json:"exp"`
}

// Grant is what one token response issues.
type Grant struct {
	Access      AccessRecord
	Refresh     RefreshRecord
	RefreshHash string // HashSecret of the refresh token
}
