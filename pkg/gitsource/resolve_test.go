package gitsource

import (
	"context"
	"errors"
	"testing"
)

func TestRepo_Resolve(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	first := f.commit(map[string]string{"catalog/berth.yaml": "gates: []\n"})
	second := f.commit(map[string]string{"catalog/berth.yaml": "gates: []\n# edit\n"})
	r, err := Open(ctx, Options{URL: f.path})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, tc := range []struct{ rev, want string }{
		{second, second},
		{first[:10], first},
		{"main", second},
		{"HEAD", second},
		{"main~1", first},
	} {
		got, err := r.Resolve(ctx, tc.rev)
		if err != nil || got != tc.want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", tc.rev, got, err, tc.want)
		}
	}
	for _, rev := range []string{"", "no-such-branch", "0123456789abcdef0123456789abcdef01234567"} {
		if _, err := r.Resolve(ctx, rev); !errors.Is(err, ErrCommitNotFound) {
			t.Errorf("Resolve(%q) err = %v, want ErrCommitNotFound", rev, err)
		}
	}
}
