package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "cat")
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"Help", []string{"--help"}, 0, "", "Examples:"},
		{"NoDir", []string{"-n", "20"}, 2, "", "-o DIR is required"},
		{"TooFew", []string{"-n", "3", "-o", out}, 2, "", "at least 10"},
		{"BadFlag", []string{"-x"}, 2, "", "flag provided but not defined"},
		{"Write", []string{"-n", "20", "-o", out, "-seed", "2"}, 0, "wrote 20 entities (28 files", ""},
		{"NotEmpty", []string{"-n", "20", "-o", out}, 1, "", "not empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != tc.code || !strings.Contains(stdout.String(), tc.stdout) || !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("run(%q) = %d\nstdout: %s\nstderr: %s", tc.args, code, stdout.String(), stderr.String())
			}
		})
	}
}
