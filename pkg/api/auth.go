package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
)

// Sentinel errors of Config.Validate.
var (
	// ErrNoClients: a non-loopback address without API clients, or with
	// Anonymous set.
	ErrNoClients = errors.New("refusing to serve the catalog without authentication off loopback")
	// ErrBadClient: a client entry is incomplete or its hash is not a
	// HashSecret hash.
	ErrBadClient = errors.New("invalid API client")
)

// Client is an API client: a client id and secret exchanged for a token
// acting as a catalog user.
type Client struct {
	// ID is the clientId sent to /v1/auth/access_token.
	ID string
	// SecretHash is HashSecret(secret); the secret itself is never kept.
	SecretHash string
	// User is the e-mail of the _user entity the client acts as; its teams
	// come from that entity's team.
	User string
}

// HashSecret returns the hash of a client secret to put in Client's
// SecretHash (bcrypt). It fails for an empty secret or one longer than 72
// bytes.
func HashSecret(secret string) (string, error) {
	if secret == "" {
		return "", fmt.Errorf("hash secret: %w: empty secret", ErrBadClient)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(secret), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("hash secret: %w", err)
	}
	return string(h), nil
}

// Validate reports whether the configuration may serve: clients are
// complete with distinct ids, and a server without clients (or with
// Anonymous) listens on a loopback address only. Errors wrap ErrNoClients
// or ErrBadClient and say how to fix them.
func (c Config) Validate() error {
	seen := map[string]bool{}
	for i, cl := range c.Clients {
		switch {
		case cl.ID == "":
			return fmt.Errorf("%w: client %d has no id", ErrBadClient, i+1)
		case seen[cl.ID]:
			return fmt.Errorf("%w: client id %q appears twice", ErrBadClient, cl.ID)
		case cl.User == "":
			return fmt.Errorf("%w: client %q names no user (the e-mail of a _user entity)", ErrBadClient, cl.ID)
		}
		if _, err := bcrypt.Cost([]byte(cl.SecretHash)); err != nil {
			return fmt.Errorf("%w: client %q: the secret hash is not a bcrypt hash made by HashSecret", ErrBadClient, cl.ID)
		}
		seen[cl.ID] = true
	}
	if len(c.TokenKey) > 0 && len(c.TokenKey) < 32 {
		return fmt.Errorf("token key: want at least 32 bytes, got %d", len(c.TokenKey))
	}
	if (len(c.Clients) == 0 || c.Anonymous) && !isLoopback(c.Addr) {
		why := "no API clients are configured"
		if c.Anonymous {
			why = "anonymous reads (--auth none) were asked for"
		}
		return fmt.Errorf("%w: %s but %q is not a loopback address. Add an API client to the serve configuration "+
			"(a client id, the hash of its secret, and the e-mail of the _user entity it acts as), or listen on "+
			"127.0.0.1 or [::1]", ErrNoClients, why, c.Addr)
	}
	return nil
}

// isLoopback reports whether a listen address accepts loopback connections
// only. An empty host listens on every interface.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// Identity is who makes a request, as its credentials say; see
// IdentityFrom. What the caller may read follows from the catalog's
// _user entity of User, as of the revision being read.
type Identity struct {
	// Anonymous is set when the server runs without authentication.
	Anonymous bool
	// ClientID is the API client the token was issued to.
	ClientID string
	// User is the e-mail of the _user entity the client acts as.
	User string
}

type identityKey struct{}

// IdentityFrom returns the caller's identity from a request context.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

func withIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// authenticator issues and checks tokens.
type authenticator struct {
	anonymous bool
	clients   map[string]Client
	key       []byte
	ttl       time.Duration
	now       func() time.Time
	parser    *jwt.Parser
	// dummy is compared against when a client id is unknown, so that the
	// answer takes as long as for a wrong secret.
	dummy []byte

	// verified holds the tokens that passed every check, by their SHA-256,
	// with what checking them again depends on (their validity period):
	// decoding and verifying a token costs more than serving a small read,
	// and a client sends the same token for an hour. A token differing in
	// any byte has another hash and is checked in full.
	verifiedMu sync.Mutex
	verified   map[[sha256.Size]byte]verifiedToken
}

// verifiedToken is a token that passed: its caller and validity period.
type verifiedToken struct {
	id        Identity
	notAfter  time.Time // exp: valid while now is before it
	notBefore time.Time // nbf, zero when absent
}

// maxVerified bounds the verified tokens kept; past it the cache starts
// afresh.
const maxVerified = 1024

const tokenIssuer = "berth"

func newAuthenticator(cfg Config) (*authenticator, error) {
	a := &authenticator{
		anonymous: cfg.Anonymous || len(cfg.Clients) == 0,
		clients:   map[string]Client{},
		key:       cfg.TokenKey,
		ttl:       cfg.TokenTTL,
		now:       cfg.Now,
	}
	cost := bcrypt.DefaultCost
	for _, c := range cfg.Clients {
		a.clients[c.ID] = c
		if n, err := bcrypt.Cost([]byte(c.SecretHash)); err == nil {
			cost = n
		}
	}
	if len(a.clients) > 0 {
		var err error
		if a.dummy, err = bcrypt.GenerateFromPassword([]byte(rand.Text()), cost); err != nil {
			return nil, fmt.Errorf("make dummy hash: %w", err)
		}
	}
	if len(a.key) == 0 {
		a.key = make([]byte, 32)
		if _, err := rand.Read(a.key); err != nil {
			return nil, fmt.Errorf("make token key: %w", err)
		}
	}
	a.parser = jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(), jwt.WithIssuer(tokenIssuer), jwt.WithTimeFunc(a.now))
	return a, nil
}

type tokenClaims struct {
	User string `json:"email"`
	jwt.RegisteredClaims
}

// issue checks a client's credentials and returns a signed token.
func (a *authenticator) issue(clientID, secret string) (string, error) {
	c, known := a.clients[clientID]
	hash := a.dummy
	if known {
		hash = []byte(c.SecretHash)
	}
	// bcrypt compares in constant time; an unknown id costs the same.
	if err := bcrypt.CompareHashAndPassword(hash, []byte(secret)); err != nil || !known {
		return "", errUnauthorized
	}
	now := a.now()
	claims := tokenClaims{User: c.User, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: tokenIssuer, Subject: c.ID,
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(a.ttl)),
	}}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(a.key)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return tok, nil
}

// identify returns the caller of r: anonymous when the server runs so,
// else the client of a valid bearer token. Any failure is errUnauthorized,
// whatever the cause.
func (a *authenticator) identify(r *http.Request) (Identity, error) {
	if a.anonymous {
		return Identity{Anonymous: true}, nil
	}
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return Identity{}, errUnauthorized
	}
	tok = strings.TrimSpace(tok)
	sum := sha256.Sum256([]byte(tok))
	now := a.now()
	a.verifiedMu.Lock()
	v, ok := a.verified[sum]
	a.verifiedMu.Unlock()
	// The checks of the parser below that depend on the time.
	if ok && now.Before(v.notAfter) && !now.Before(v.notBefore) {
		return v.id, nil
	}
	var claims tokenClaims
	_, err := a.parser.ParseWithClaims(tok, &claims, func(*jwt.Token) (any, error) { return a.key, nil })
	if err != nil {
		return Identity{}, errUnauthorized
	}
	c, ok := a.clients[claims.Subject]
	// A client removed from the configuration loses its tokens.
	if !ok || subtle.ConstantTimeCompare([]byte(c.User), []byte(claims.User)) != 1 {
		return Identity{}, errUnauthorized
	}
	v = verifiedToken{id: Identity{ClientID: c.ID, User: c.User}, notAfter: claims.ExpiresAt.Time}
	if claims.NotBefore != nil {
		v.notBefore = claims.NotBefore.Time
	}
	a.verifiedMu.Lock()
	if a.verified == nil || len(a.verified) >= maxVerified {
		a.verified = map[[sha256.Size]byte]verifiedToken{}
	}
	a.verified[sum] = v
	a.verifiedMu.Unlock()
	return v.id, nil
}

// accessToken is Port's POST /v1/auth/access_token.
func (s *Server) accessToken(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ClientID     string `json:"clientId"`
		ClientSecret string `json:"clientSecret"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		s.fail(w, r, bodyError(err))
		return
	}
	if body.ClientID == "" || body.ClientSecret == "" {
		writeError(w, errorf(kindInvalidRequest, "want a JSON body {clientId, clientSecret}"))
		return
	}
	tok, err := s.auth.issue(body.ClientID, body.ClientSecret)
	if err != nil {
		if errors.Is(err, errUnauthorized) {
			s.log.Info("access token refused", "client", body.ClientID, "remote", remoteHost(r))
		}
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"ok": true, "accessToken": tok, "expiresIn": int(s.auth.ttl / time.Second), "tokenType": "Bearer",
	})
}

// bodyError turns a body decoding error into a client error.
func bodyError(err error) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return errorf(kindBodyTooLarge, "request body over %d bytes", tooLarge.Limit)
	}
	return errorf(kindInvalidRequest, "invalid JSON body: %v", err)
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
