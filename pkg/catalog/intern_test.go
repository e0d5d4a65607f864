package catalog

import (
	"strings"
	"testing"
	"unsafe"
)

func TestInterner(t *testing.T) {
	in := newInterner()
	fresh := func(s string) string { return strings.Clone(s) }
	same := func(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }
	str := func(v any) string { return v.(string) }

	if k1, k2 := in.key(fresh("lifecycle")), in.key(fresh("lifecycle")); k1 != k2 || !same(k1, k2) {
		t.Errorf("keys %q and %q are not shared", k1, k2)
	}
	if v1, v2 := in.value(fresh("Production")), in.value(fresh("Production")); !same(str(v1), str(v2)) {
		t.Errorf("values %v and %v are not shared", v1, v2)
	}
	long := strings.Repeat("x", maxInterned+1)
	if v1, v2 := in.value(fresh(long)), in.value(fresh(long)); v1 != v2 || same(str(v1), str(v2)) {
		t.Errorf("a long value was shared")
	}
	// Full, it starts again rather than growing.
	for i := range internLimit + 10 {
		in.value(fresh(strings.Repeat("v", i%maxInterned) + string(rune('a'+i%26)) + string(rune(i))))
	}
	if len(in.vals) > internLimit {
		t.Errorf("interner holds %d values, limit %d", len(in.vals), internLimit)
	}
	var none *interner
	if none.key("k") != "k" || none.value("v") != "v" {
		t.Error("a nil interner must return its input")
	}
}
