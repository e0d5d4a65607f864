package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/berth-dev/berth/pkg/api"
)

// TestLoadServerConfig reads --config files from a temp dir with their
// secrets in env vars (t.Setenv) and files. $DIR in a config or a file
// name is the temp dir.
func TestLoadServerConfig(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("from-hash"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	key32 := strings.Repeat("k", 32)
	keyB64 := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("\x01", 32)))
	for _, tc := range []struct {
		name   string
		config string
		env    map[string]string
		files  map[string]string
		// secrets are the clients' secrets in order (each checked against
		// its hash); key is the token key; err the wanted error's parts.
		secrets []string
		users   []string
		key     string
		err     []string
	}{
		{name: "SecretHash",
			config:  "clients:\n  - id: ci\n    user: ada@example.com\n    secretHash: " + string(hash) + "\n",
			secrets: []string{"from-hash"}, users: []string{"ada@example.com"}},
		{name: "SecretEnv",
			config:  "clients:\n  - id: ci\n    user: ada@example.com\n    secretEnv: BERTH_TEST_SECRET\n",
			env:     map[string]string{"BERTH_TEST_SECRET": "from-env"},
			secrets: []string{"from-env"}, users: []string{"ada@example.com"}},
		{name: "SecretFile",
			config:  "clients:\n  - id: ci\n    user: ada@example.com\n    secretFile: $DIR/secret\n",
			files:   map[string]string{"secret": "from-file\n"},
			secrets: []string{"from-file"}, users: []string{"ada@example.com"}},
		{name: "ThreeClients",
			config: "clients:\n" +
				"  - {id: a, user: a@example.com, secretHash: '" + string(hash) + "'}\n" +
				"  - {id: b, user: b@example.com, secretEnv: BERTH_TEST_SECRET}\n" +
				"  - {id: c, user: c@example.com, secretFile: $DIR/secret}\n",
			env:     map[string]string{"BERTH_TEST_SECRET": "b-secret"},
			files:   map[string]string{"secret": "c-secret"},
			secrets: []string{"from-hash", "b-secret", "c-secret"}, users: []string{"a@example.com", "b@example.com", "c@example.com"}},
		{name: "TokenKeyEnvRaw",
			config: "tokenKeyEnv: BERTH_TEST_KEY\n", env: map[string]string{"BERTH_TEST_KEY": key32}, key: key32},
		{name: "TokenKeyEnvBase64",
			config: "tokenKeyEnv: BERTH_TEST_KEY\n", env: map[string]string{"BERTH_TEST_KEY": keyB64}, key: strings.Repeat("\x01", 32)},
		{name: "TokenKeyFile",
			config: "tokenKeyFile: $DIR/key\n", files: map[string]string{"key": key32 + "\n"}, key: key32},
		{name: "CommentsOnly", config: "# no clients yet\n"},

		{name: "NoSecret",
			config: "clients:\n  - id: ci\n    user: ada@example.com\n",
			err:    []string{`clients[0] ("ci") has no secretHash, secretEnv or secretFile`}},
		{name: "HashAndEnv",
			config: "clients:\n  - id: ci\n    user: ada@example.com\n    secretHash: " + string(hash) + "\n    secretEnv: BERTH_TEST_SECRET\n",
			env:    map[string]string{"BERTH_TEST_SECRET": "x"},
			err:    []string{`client "ci": give one of secretHash, secretEnv, secretFile`}},
		{name: "HashAndFile",
			config: "clients:\n  - id: ci\n    user: ada@example.com\n    secretHash: " + string(hash) + "\n    secretFile: $DIR/secret\n",
			files:  map[string]string{"secret": "x"},
			err:    []string{`client "ci": give one of secretHash, secretEnv, secretFile`}},
		{name: "EnvAndFile",
			config: "clients:\n  - id: ci\n    user: ada@example.com\n    secretEnv: BERTH_TEST_SECRET\n    secretFile: $DIR/secret\n",
			env:    map[string]string{"BERTH_TEST_SECRET": "x"}, files: map[string]string{"secret": "x"},
			err: []string{`client "ci": give an env var or a file, not both`}},
		{name: "EmptyEnv",
			config: "clients:\n  - id: ci\n    user: ada@example.com\n    secretEnv: BERTH_TEST_SECRET\n",
			env:    map[string]string{"BERTH_TEST_SECRET": ""},
			err:    []string{`client "ci": environment variable BERTH_TEST_SECRET is empty`}},
		{name: "EmptySecretFile",
			config: "clients:\n  - id: ci\n    user: ada@example.com\n    secretFile: $DIR/secret\n",
			files:  map[string]string{"secret": "\n"},
			err:    []string{`client "ci": file`, `secret is empty`}},
		{name: "MissingSecretFile",
			config: "clients:\n  - id: ci\n    user: ada@example.com\n    secretFile: $DIR/nowhere\n",
			err:    []string{`client "ci": open`, "nowhere"}},
		{name: "TokenKeyEnvAndFile",
			config: "tokenKeyEnv: BERTH_TEST_KEY\ntokenKeyFile: $DIR/key\n",
			env:    map[string]string{"BERTH_TEST_KEY": key32}, files: map[string]string{"key": key32},
			err: []string{"token key: give an env var or a file, not both"}},
		{name: "EmptyTokenKeyEnv",
			config: "tokenKeyEnv: BERTH_TEST_KEY\n", env: map[string]string{"BERTH_TEST_KEY": ""},
			err: []string{"token key: environment variable BERTH_TEST_KEY is empty"}},
		{name: "EmptyTokenKeyFile",
			config: "tokenKeyFile: $DIR/key\n", files: map[string]string{"key": " \n"},
			err: []string{"token key: file", "key is empty"}},
		{name: "UnknownTopLevelKey",
			config: "clients: []\ntokenKey: plain\n",
			err:    []string{"line 2:", "field tokenKey not found"}},
		{name: "UnknownClientKey",
			config: "clients:\n  - id: ci\n    user: ada@example.com\n    secret: plain\n",
			err:    []string{"line 4:", "field secret not found in type main.serverClient"}},
		{name: "Malformed",
			config: "clients:\n  - id: ci\n    user: ada: example.com\n",
			err:    []string{"line 3:", "mapping values are not allowed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			for name, data := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(dir, "berth-serve.yaml")
			if err := os.WriteFile(path, []byte(strings.ReplaceAll(tc.config, "$DIR", dir)), 0o600); err != nil {
				t.Fatal(err)
			}
			var cfg api.Config
			err := loadServerConfig(path, &cfg)
			if tc.err != nil {
				if err == nil {
					t.Fatalf("no error, want %q", tc.err)
				}
				for _, part := range append([]string{"server config " + path + ": "}, tc.err...) {
					if !strings.Contains(err.Error(), part) {
						t.Errorf("error %q does not contain %q", err, part)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.Clients) != len(tc.secrets) {
				t.Fatalf("%d clients, want %d: %+v", len(cfg.Clients), len(tc.secrets), cfg.Clients)
			}
			for i, c := range cfg.Clients {
				if err := bcrypt.CompareHashAndPassword([]byte(c.SecretHash), []byte(tc.secrets[i])); err != nil {
					t.Errorf("client %s: hash does not match secret %q: %v", c.ID, tc.secrets[i], err)
				}
				if c.User != tc.users[i] {
					t.Errorf("client %s: user %q, want %q", c.ID, c.User, tc.users[i])
				}
			}
			if string(cfg.TokenKey) != tc.key {
				t.Errorf("token key %q, want %q", cfg.TokenKey, tc.key)
			}
			if len(tc.secrets) > 0 || tc.key != "" {
				cfg.Addr = "127.0.0.1:8080"
				if err := cfg.Validate(); err != nil {
					t.Errorf("the loaded config does not validate: %v", err)
				}
			}
		})
	}
	t.Run("MissingConfig", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "none.yaml")
		if err := loadServerConfig(path, &api.Config{}); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("error %v, want one naming %s", err, path)
		}
	})
}
