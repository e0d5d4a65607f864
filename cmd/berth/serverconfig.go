package main

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/berth-dev/berth/pkg/api"
	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"
)

// serverConfig is berth serve's --config file. Secrets never appear in it
// in the clear: a client names a bcrypt hash, an environment variable or a
// file holding its secret.
type serverConfig struct {
	Clients []serverClient `yaml:"clients"`
	// TokenKeyEnv / TokenKeyFile hold the key signing access tokens; replicas
	// behind one load balancer must share it. Default: random per process.
	TokenKeyEnv  string `yaml:"tokenKeyEnv"`
	TokenKeyFile string `yaml:"tokenKeyFile"`
}

// serverClient is a client of the --config file. It is a named type so
// that an unknown key's error names it rather than spelling out a struct.
type serverClient struct {
	ID         string `yaml:"id"`
	User       string `yaml:"user"` // e-mail of a _user entity
	SecretHash string `yaml:"secretHash"`
	SecretEnv  string `yaml:"secretEnv"`
	SecretFile string `yaml:"secretFile"`
}

// loadServerConfig reads path into cfg (clients and token key).
func loadServerConfig(path string, cfg *api.Config) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read server config: %w", err)
	}
	var sc serverConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	// A file of comments only is an empty config, not a bare "EOF".
	if err := dec.Decode(&sc); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("server config %s: %w", path, err)
	}
	for i, c := range sc.Clients {
		hash := c.SecretHash
		secret, err := secretFrom(c.SecretEnv, c.SecretFile)
		if err != nil {
			return fmt.Errorf("server config %s: client %q: %w", path, c.ID, err)
		}
		switch {
		case hash != "" && secret != "":
			return fmt.Errorf("server config %s: client %q: give one of secretHash, secretEnv, secretFile", path, c.ID)
		case secret != "":
			if hash, err = api.HashSecret(secret); err != nil {
				return err
			}
		case hash == "":
			return fmt.Errorf("server config %s: clients[%d] (%q) has no secretHash, secretEnv or secretFile", path, i, c.ID)
		}
		cfg.Clients = append(cfg.Clients, api.Client{ID: c.ID, SecretHash: hash, User: c.User})
	}
	key, err := secretFrom(sc.TokenKeyEnv, sc.TokenKeyFile)
	if err != nil {
		return fmt.Errorf("server config %s: token key: %w", path, err)
	}
	if key != "" {
		if b, err := base64.StdEncoding.DecodeString(key); err == nil && len(b) >= 32 {
			cfg.TokenKey = b
		} else {
			cfg.TokenKey = []byte(key)
		}
	}
	return nil
}

func secretFrom(env, file string) (string, error) {
	switch {
	case env != "" && file != "":
		return "", fmt.Errorf("give an env var or a file, not both")
	case env != "":
		v := os.Getenv(env)
		if v == "" {
			return "", fmt.Errorf("environment variable %s is empty", env)
		}
		return v, nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", err
		}
		// An empty file is a mistake, as an empty env var is: taken as no
		// value, a token key would silently become a random one.
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("file %s is empty", file)
		}
		return v, nil
	}
	return "", nil
}

func (a *app) hashSecretCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "hash-secret",
		Short: "Hash an API client secret (read from stdin) for secretHash in berth serve's --config",
		Long: `hash-secret reads a client secret from standard input and prints its bcrypt hash,
for the secretHash field of a client in berth serve's --config file:

  clients:
    - id: ci-dashboards
      user: alice@example.com       # acts as this _user entity
      secretHash: $2a$10$...        # or secretEnv: NAME, or secretFile: /run/secrets/...`,
		Example: `  head -c 32 /dev/urandom | base64 | tee secret.txt | berth hash-secret`,
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var b bytes.Buffer
			if _, err := b.ReadFrom(a.stdin); err != nil {
				return err
			}
			secret := strings.TrimSpace(b.String())
			if secret == "" {
				return usageError{fmt.Errorf("no secret on standard input")}
			}
			h, err := api.HashSecret(secret)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, h)
			return nil
		},
	}
}
