package edit

import (
	"bytes"
	"encoding/json"
	"strings"
)

// PatchCommand returns the berth command that does, as a change to commit
// for a pull request, what PATCH /v1/pages/{pageID}/permissions with body
// asks of Port: berth pages permissions PAGE --patch 'BODY', the body
// compacted when it is JSON and both quoted for a POSIX shell. It never
// fails; a body that is not a valid patch yields a command that will say
// why.
func PatchCommand(pageID string, body []byte) string {
	var b bytes.Buffer
	text := string(bytes.TrimSpace(body))
	if json.Compact(&b, body) == nil {
		text = b.String()
	}
	return "berth pages permissions " + shellQuote(pageID) + " --patch " + shellQuote(text)
}

// LockCommand returns the berth command that locks (or unlocks) a page:
// berth pages lock PAGE.
func LockCommand(pageID string, locked bool) string {
	verb := "unlock"
	if locked {
		verb = "lock"
	}
	return "berth pages " + verb + " " + shellQuote(pageID)
}

// PageCommand returns the berth command for PATCH /v1/pages/{pageID} with
// body, which berth supports for {"locked": true|false} only; ok is false
// for any other body.
func PageCommand(pageID string, body []byte) (cmd string, ok bool) {
	var v map[string]json.RawMessage
	if json.Unmarshal(body, &v) != nil || len(v) != 1 {
		return "", false
	}
	switch string(v["locked"]) {
	case "true":
		return LockCommand(pageID, true), true
	case "false":
		return LockCommand(pageID, false), true
	}
	return "", false
}

// shellQuote quotes s for a POSIX shell unless it is made only of
// characters no shell treats specially.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.@%+=:,/") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
