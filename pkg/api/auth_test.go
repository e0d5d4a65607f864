package api_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/pkg/api"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func token(tb testing.TB, h http.Handler) string {
	tb.Helper()
	r := do(tb, h, "POST", "/v1/auth/access_token", map[string]string{"clientId": clientID, "clientSecret": clientSecret}, nil).
		want(tb, 200, "")
	tok, _ := r.Body["accessToken"].(string)
	if tok == "" {
		tb.Fatalf("no token: %s", r.Raw)
	}
	return tok
}

func bearer(tok string) header { return header{"Authorization": "Bearer " + tok} }

func TestServer_Auth(t *testing.T) {
	db := exampleDB(t)
	clk := newClock()
	key := []byte(strings.Repeat("k", 32))
	h := newServer(t, db, api.Config{Clients: testClients(t), TokenKey: key, Now: clk.Now, Addr: "0.0.0.0:8080"}).Handler()
	path := "/v1/blueprints/service/entities/payments-api"

	r := do(t, h, "POST", "/v1/auth/access_token", map[string]string{"clientId": clientID, "clientSecret": clientSecret}, nil).
		want(t, 200, "")
	if r.Body["tokenType"] != "Bearer" || r.Body["expiresIn"] != float64(3600) || r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("token answer: %s %v", r.Raw, r.Header)
	}
	tok := r.Body["accessToken"].(string)
	do(t, h, "GET", path, nil, bearer(tok)).want(t, 200, "")
	do(t, h, "GET", path, nil, header{"Authorization": "bearer " + tok}).want(t, 200, "")

	// Every refusal reads the same: no hint of what was wrong.
	var messages []string
	refuse := func(t *testing.T, r response) {
		t.Helper()
		r.want(t, 401, "unauthorized")
		messages = append(messages, r.Body["message"].(string))
	}
	t.Run("WrongSecret", func(t *testing.T) {
		refuse(t, do(t, h, "POST", "/v1/auth/access_token", map[string]string{"clientId": clientID, "clientSecret": "nope"}, nil))
	})
	t.Run("UnknownClient", func(t *testing.T) {
		refuse(t, do(t, h, "POST", "/v1/auth/access_token", map[string]string{"clientId": "who", "clientSecret": clientSecret}, nil))
	})
	t.Run("Missing", func(t *testing.T) {
		r := do(t, h, "GET", path, nil, nil)
		refuse(t, r)
		if r.Header.Get("WWW-Authenticate") == "" {
			t.Error("no WWW-Authenticate challenge")
		}
		refuse(t, do(t, h, "GET", path, nil, header{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("a:b"))}))
		refuse(t, do(t, h, "GET", path, nil, header{"Authorization": "Bearer"}))
		refuse(t, do(t, h, "GET", path, nil, bearer("not.a.token")))
	})
	t.Run("Forged", func(t *testing.T) {
		claims := jwt.MapClaims{"iss": "berth", "sub": clientID, "email": clientUser, "exp": clk.Now().Add(time.Hour).Unix()}
		other, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(strings.Repeat("x", 32)))
		if err != nil {
			t.Fatal(err)
		}
		refuse(t, do(t, h, "GET", path, nil, bearer(other)))
		none, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		refuse(t, do(t, h, "GET", path, nil, bearer(none)))
		// The right key but claims berth did not issue: another user.
		claims["email"] = "maria.chen@example.com"
		wrongUser, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		refuse(t, do(t, h, "GET", path, nil, bearer(wrongUser)))
		// A tampered payload keeps the old signature.
		parts := strings.Split(tok, ".")
		parts[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"berth","sub":"ci-dashboard","email":"x@example.com","exp":9999999999}`))
		refuse(t, do(t, h, "GET", path, nil, bearer(strings.Join(parts, "."))))
		// Another server's random key does not verify this server's tokens.
		h2 := newServer(t, db, api.Config{Clients: testClients(t), Now: clk.Now}).Handler()
		refuse(t, do(t, h2, "GET", path, nil, bearer(tok)))
	})
	t.Run("Expired", func(t *testing.T) {
		clk.Advance(59 * time.Minute)
		do(t, h, "GET", path, nil, bearer(tok)).want(t, 200, "")
		clk.Advance(2 * time.Minute)
		refuse(t, do(t, h, "GET", path, nil, bearer(tok)))
		do(t, h, "GET", path, nil, bearer(token(t, h))).want(t, 200, "")
	})
	t.Run("BadBody", func(t *testing.T) {
		do(t, h, "POST", "/v1/auth/access_token", `{"clientId":`, nil).want(t, 400, "invalid_request")
		do(t, h, "POST", "/v1/auth/access_token", `{}`, nil).want(t, 400, "invalid_request")
	})
	slices.Sort(messages)
	if messages = slices.Compact(messages); len(messages) != 1 {
		t.Errorf("refusals differ: %q", messages)
	}
	// Health and readiness need no token.
	do(t, h, "GET", "/healthz", nil, nil).want(t, 200, "")
	do(t, h, "GET", "/readyz", nil, nil).want(t, 200, "")
}

// TestServer_AuthManyTokens: tokens that passed are remembered (a bounded
// number of them, by hash) so that a client's next request skips
// verifying the signature; past the bound every token is still accepted
// while valid, and a remembered one is refused once expired.
func TestServer_AuthManyTokens(t *testing.T) {
	clk := newClock()
	key := []byte(strings.Repeat("k", 32))
	h := newServer(t, exampleDB(t), api.Config{Clients: testClients(t), TokenKey: key, Now: clk.Now, RateLimit: rate.Inf}).Handler()
	path := "/v1/blueprints/service/entities/payments-api"
	sign := func(i int) string {
		claims := jwt.MapClaims{"iss": "berth", "sub": clientID, "email": clientUser, "jti": fmt.Sprint(i),
			"exp": clk.Now().Add(time.Hour).Unix()}
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	const n = 1100 // more than the server remembers
	toks := make([]string, n)
	for i := range toks {
		toks[i] = sign(i)
	}
	for _, i := range []int{0, 1, n - 1, 0} {
		do(t, h, "GET", path, nil, bearer(toks[i])).want(t, 200, "")
	}
	for _, tok := range toks {
		do(t, h, "GET", path, nil, bearer(tok)).want(t, 200, "")
	}
	do(t, h, "GET", path, nil, bearer(toks[0])).want(t, 200, "")
	clk.Advance(time.Hour)
	do(t, h, "GET", path, nil, bearer(toks[0])).want(t, 401, "unauthorized")
	do(t, h, "GET", path, nil, bearer(toks[n-1])).want(t, 401, "unauthorized")
}

func TestServer_Identity(t *testing.T) {
	h := newServer(t, exampleDB(t), api.Config{Clients: testClients(t)}).Handler()
	auth := bearer(token(t, h))

	// {context: user} binds to the client's user, userTeams to its teams.
	me := do(t, h, "POST", "/v1/entities/search", `{"combinator":"and","rules":[
		{"property":"$blueprint","operator":"=","value":"_user"},
		{"property":"$identifier","operator":"=","value":{"context":"user","property":"$identifier"}}]}`, auth).want(t, 200, "")
	if ids := identifiers(me.list("entities")); len(ids) != 1 || ids[0] != clientUser {
		t.Errorf("context user: %v", ids)
	}
	mine := do(t, h, "POST", "/v1/blueprints/service/entities/search", `{"query":{"combinator":"and","rules":[
		{"property":"$team","operator":"in","value":["My Teams"]}]},"include":["team"]}`, auth).want(t, 200, "")
	ents := mine.list("entities")
	if len(ents) == 0 {
		t.Fatal("no services of the user's team")
	}
	for _, e := range ents {
		if !slices.Contains(e["team"].([]any), any("payments")) {
			t.Errorf("My Teams matched %v", e)
		}
	}
}

func TestConfig_Validate(t *testing.T) {
	good := testClients(t)
	for _, c := range []struct {
		name string
		cfg  api.Config
		want error
	}{
		{"AnonymousLoopback", api.Config{Addr: "127.0.0.1:8080"}, nil},
		{"AnonymousLocalhost", api.Config{Addr: "localhost:8080"}, nil},
		{"AnonymousIPv6Loopback", api.Config{Addr: "[::1]:8080"}, nil},
		{"AnonymousAllInterfaces", api.Config{Addr: ":8080"}, api.ErrNoClients},
		{"AnonymousPublic", api.Config{Addr: "10.0.0.5:8080"}, api.ErrNoClients},
		{"ClientsPublic", api.Config{Addr: ":8080", Clients: good}, nil},
		{"AuthNoneOffLoopback", api.Config{Addr: ":8080", Clients: good, Anonymous: true}, api.ErrNoClients},
		{"AuthNoneLoopback", api.Config{Addr: "127.0.0.1:0", Clients: good, Anonymous: true}, nil},
		{"NoID", api.Config{Addr: ":1", Clients: []api.Client{{SecretHash: good[0].SecretHash, User: "u@x"}}}, api.ErrBadClient},
		{"NoUser", api.Config{Addr: ":1", Clients: []api.Client{{ID: "a", SecretHash: good[0].SecretHash}}}, api.ErrBadClient},
		{"PlainSecret", api.Config{Addr: ":1", Clients: []api.Client{{ID: "a", SecretHash: "hunter2", User: "u@x"}}}, api.ErrBadClient},
		{"Duplicate", api.Config{Addr: ":1", Clients: append(slices.Clone(good), good...)}, api.ErrBadClient},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
				t.Fatalf("Validate() = %v, want %v", err, c.want)
			}
			if _, nerr := api.New(openDB(t), nil, c.cfg); (nerr == nil) != (err == nil) {
				t.Errorf("New disagrees with Validate: %v", nerr)
			}
			if errors.Is(err, api.ErrNoClients) && !strings.Contains(err.Error(), "Add an API client") {
				t.Errorf("error does not say how to add a client: %v", err)
			}
		})
	}
	if _, err := api.HashSecret(""); err == nil {
		t.Error("HashSecret accepted an empty secret")
	}
}

func TestHashSecret(t *testing.T) {
	h, err := api.HashSecret(clientSecret)
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, exampleDB(t), api.Config{Clients: []api.Client{{ID: clientID, SecretHash: h, User: clientUser}}})
	token(t, s.Handler())
}

func TestServer_Anonymous(t *testing.T) {
	db := exampleDB(t)
	h := newServer(t, db, api.Config{Addr: "127.0.0.1:8080"}).Handler()
	do(t, h, "GET", "/v1/blueprints", nil, nil).want(t, 200, "")
	// --auth none ignores tokens even with clients configured.
	h = newServer(t, db, api.Config{Addr: "127.0.0.1:8080", Clients: testClients(t), Anonymous: true}).Handler()
	do(t, h, "GET", "/v1/blueprints", nil, nil).want(t, 200, "")
	do(t, h, "GET", "/v1/blueprints", nil, bearer("garbage")).want(t, 200, "")
}

func TestServer_RateLimit(t *testing.T) {
	clk := newClock()
	h := newServer(t, exampleDB(t), api.Config{RateLimit: 1, RateBurst: 2, Now: clk.Now}).Handler()
	path := "/v1/blueprints/service/entities-count"
	for i, left := range []string{"1", "0"} {
		r := do(t, h, "GET", path, nil, nil).want(t, 200, "")
		if r.Header.Get("x-ratelimit-limit") != "2" || r.Header.Get("x-ratelimit-remaining") != left {
			t.Errorf("request %d headers: %v", i, r.Header)
		}
	}
	r := do(t, h, "GET", path, nil, nil).want(t, 429, "rate_limited")
	for k, v := range map[string]string{"x-ratelimit-limit": "2", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1", "Retry-After": "1"} {
		if got := r.Header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	// Health checks are not limited.
	do(t, h, "GET", "/healthz", nil, nil).want(t, 200, "")
	clk.Advance(time.Second)
	do(t, h, "GET", path, nil, nil).want(t, 200, "")
	do(t, h, "GET", path, nil, nil).want(t, 429, "rate_limited")
}

func TestServer_RateLimitPerClient(t *testing.T) {
	clk := newClock()
	h := newServer(t, exampleDB(t), api.Config{Clients: testClients(t), RateLimit: 1, RateBurst: 2, Now: clk.Now}).Handler()
	tok := bearer(token(t, h)) // the token request spends the address's budget, not the client's
	do(t, h, "GET", "/v1/blueprints", nil, tok).want(t, 200, "")
	do(t, h, "GET", "/v1/blueprints", nil, tok).want(t, 200, "")
	do(t, h, "GET", "/v1/blueprints", nil, tok).want(t, 429, "rate_limited")
	// Unauthenticated callers from the same address have their own budget.
	do(t, h, "GET", "/v1/blueprints", nil, nil).want(t, 401, "unauthorized")
}
