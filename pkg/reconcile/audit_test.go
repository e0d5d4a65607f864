package reconcile_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/pkg/index"
	"github.com/berth-dev/berth/pkg/reconcile"
)

// changesSince returns the catalog changes recorded after entry id, sorted,
// in short ("action blueprint/identifier by user at commit"), and the
// newest entry's id.
func (f *fixture) changesSince(id int64) ([]string, int64) {
	f.t.Helper()
	var es []index.AuditEntry
	err := f.db.ReadTx(context.Background(), func(tx *sql.Tx) error {
		var err error
		es, err = index.AuditLogTx(context.Background(), tx, index.AuditQuery{Kind: index.AuditChange, Limit: 1000})
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	last := id
	for _, e := range es {
		if e.ID <= id {
			continue
		}
		last = max(last, e.ID)
		s := fmt.Sprintf("%s %s/%s by %s at %s", e.Action, e.Blueprint, e.Identifier, e.User, e.Commit[:7])
		if e.Action == index.ActionImported {
			s = fmt.Sprintf("%s %d %s by %s at %s", e.Action, e.Count, e.Blueprint, e.User, e.Commit[:7])
		} else if e.File == "" {
			s += " (no file)"
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out, last
}

// TestReconcile_AuditLog records catalog changes over a chain of real
// commits by several authors: who changed which entity in which commit,
// and nothing for commits that change no entity's content or that are
// rejected.
func TestReconcile_AuditLog(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, base(), reconcile.Options{})
	var mark int64
	step := func(t *testing.T, status index.Status, want ...string) {
		t.Helper()
		res := f.reconcile()
		if res.Status != status {
			t.Fatalf("reconcile: %+v", res)
		}
		got, last := f.changesSince(mark)
		mark = last
		if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b []string) bool { return slices.Equal(a, b) })); diff != "" &&
			!(len(want) == 0 && len(got) == 0) {
			t.Errorf("changes (-want +got):\n%s", diff)
		}
	}
	short := func(h string) string { return h[:7] }

	t.Run("FirstImport", func(t *testing.T) {
		head, err := f.repo.Head(ctx)
		if err != nil {
			t.Fatal(err)
		}
		step(t, index.StatusApplied, "imported 3 service by ada@example.com at "+short(head.Hash))
	})
	t.Run("Update", func(t *testing.T) {
		h := f.commitAs("Bob <bob@example.com>", "scale a down", map[string][]byte{"entities/service/a.yaml": entity("a", "gold", 1)})
		step(t, index.StatusApplied, "updated service/a by bob@example.com at "+short(h))
	})
	t.Run("CommentOnly", func(t *testing.T) {
		f.commitAs("Bob <bob@example.com>", "note", map[string][]byte{
			"entities/service/b.yaml": append([]byte("# owned by payments\n"), entity("b", "silver", 1, "a")...)})
		step(t, index.StatusApplied)
	})
	t.Run("CreateAndDelete", func(t *testing.T) {
		h := f.commitAs("Carol <carol@example.com>", "add d, drop c", map[string][]byte{
			"entities/service/d.yaml": entity("d", "bronze", 2, "a"),
			"entities/service/c.yaml": nil,
		})
		step(t, index.StatusApplied, "created service/d by carol@example.com at "+short(h),
			"deleted service/c by carol@example.com at "+short(h))
	})
	t.Run("Move", func(t *testing.T) {
		f.commitAs("Carol <carol@example.com>", "move d", map[string][]byte{
			"entities/service/d.yaml":       nil,
			"entities/service/moved/d.yaml": entity("d", "bronze", 2, "a"),
		})
		step(t, index.StatusApplied)
		if d, err := f.db.Entity(ctx, "service", "d"); err != nil || d.File != "entities/service/moved/d.yaml" {
			t.Errorf("d's file after the move: %q (%v)", d.File, err)
		}
	})
	t.Run("RejectedCommit", func(t *testing.T) {
		f.commitAs("Eve <eve@example.com>", "typo", map[string][]byte{
			"entities/service/a.yaml": []byte("identifier: a\nproperties: {tier: platinum}\n"),
			"entities/service/x.yaml": entity("x", "gold", 1),
		})
		step(t, index.StatusFailed)
	})
	t.Run("ForcePushRebuild", func(t *testing.T) {
		if err := os.RemoveAll(f.remote); err != nil {
			t.Fatal(err)
		}
		files := base() // a back to 3 replicas, b without its comment, c again, no d
		files["entities/service/e.yaml"] = entity("e", "gold", 9)
		h := f.commitAs(ada, "rewritten history", files)
		step(t, index.StatusApplied,
			"created service/c by ada@example.com at "+short(h),
			"created service/e by ada@example.com at "+short(h),
			"deleted service/d by ada@example.com at "+short(h),
			"updated service/a by ada@example.com at "+short(h))
	})
}
