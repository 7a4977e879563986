package contract

import (
	"fmt"
	"os"
	"strings"
)

// MaxSecretFileBytes bounds a secret read from a file: a path that names the wrong
// file (a log, a device) fails instead of filling memory.
const MaxSecretFileBytes = 64 << 10

// ReadSecretFile reads a secret from the file at path, as Docker and Swarm secrets
// mount them (/run/secrets/NAME) and as the NAME_FILE variables of authsvc and the
// bridges, and the plugin's …File options, name them. One trailing line break (\n or
// \r\n) is removed, so a file written by an editor or `echo` holds the same value as
// the variable would; every other byte is kept. An empty file is an error: a secret
// that is empty by mistake must not turn a check off.
func ReadSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	if st.Size() > MaxSecretFileBytes {
		return "", fmt.Errorf("%s holds %d bytes, more than a secret's %d", path, st.Size(), MaxSecretFileBytes)
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil && st.Size() > 0 {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	v := string(b)
	if strings.HasSuffix(v, "\r\n") {
		v = v[:len(v)-2]
	} else {
		v = strings.TrimSuffix(v, "\n")
	}
	if v == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return v, nil
}

// AuthsvcSecrets are authsvc's variables that hold secrets: each may instead be read
// from a file named by NAME_FILE (authsvc's configuration), and the Swarm stack passes
// each as a Swarm secret that way (internal/swarmstack).
var AuthsvcSecrets = []string{
	"REDIS_PASSWORD", "REDIS_SENTINEL_PASSWORD", "GITHUB_CLIENT_SECRET", "JWT_PRIVATE_KEY",
	"GATEWAY_JWT_SECRET", "SESSION_SECRET", "REVOCATION_FEED_TOKEN",
}

// BridgeSecrets are mcpbridge's variables that hold secrets, read from NAME_FILE alike.
var BridgeSecrets = []string{"MCPBRIDGE_IDENTITY_SECRET"}

// PluginSecretOptions are the mcpauth options that hold secrets; the plugin reads
// each from a file given as the option's name with File appended (identitySecretFile).
var PluginSecretOptions = []string{"hmacSecret", "revocationToken", "identitySecret"}
