package reconcile

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// maxWebhookBody is GitHub's largest webhook payload.
const maxWebhookBody = 25 << 20

// WebhookHandler returns the handler of GitHub's push webhook
// (POST /hooks/github). It verifies X-Hub-Signature-256 (HMAC-SHA256 of the
// body with secret, compared in constant time) and answers 401 to a missing
// or wrong signature; a push to branch calls trigger, a ping answers 200,
// other events and branches answer 202 and do nothing.
func WebhookHandler(secret []byte, branch string, trigger func()) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxWebhookBody))
		if err != nil {
			http.Error(w, "body too large or unreadable", http.StatusRequestEntityTooLarge)
			return
		}
		if !validSignature(secret, body, req.Header.Get("X-Hub-Signature-256")) {
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		switch req.Header.Get("X-GitHub-Event") {
		case "ping":
			w.WriteHeader(http.StatusOK)
			return
		case "push":
		default:
			w.WriteHeader(http.StatusAccepted)
			return
		}
		var ev struct {
			Ref string `json:"ref"`
		}
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, "malformed push event", http.StatusBadRequest)
			return
		}
		if ev.Ref == "refs/heads/"+branch {
			trigger()
		}
		w.WriteHeader(http.StatusAccepted)
	})
}

func validSignature(secret, body []byte, header string) bool {
	sig, ok := strings.CutPrefix(header, "sha256=")
	if !ok || len(secret) == 0 {
		return false
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}
