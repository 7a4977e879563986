package contract

// AuthsvcTunables are authsvc's environment variables that `just run` passes from
// .env to the authsvc it starts: the lifetimes, the signing setup and the like. The
// rest (addresses, Redis, GitHub, the issuer, secrets shared with the edge) `just run`
// sets itself. authsvc's configuration test checks that each is a variable authsvc
// reads, so a renamed variable cannot silently stop passing through.
var AuthsvcTunables = []string{
	"CLIENT_LIFETIME", "ACCESS_TOKEN_LIFETIME", "REFRESH_TOKEN_LIFETIME", "SESSION_LIFETIME",
	"JWT_ALGORITHM", "JWT_PRIVATE_KEY", "GATEWAY_JWT_SECRET", "SESSION_SECRET",
	"DEFAULT_AUDIENCE", "REGISTRATION_RATE_LIMIT", "LOG_LEVEL",
}
