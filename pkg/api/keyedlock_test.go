package api

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestKeyedLocks: holders of one key never overlap, holders of different
// keys do, and a key's entry is gone once nobody holds or waits for it.
func TestKeyedLocks(t *testing.T) {
	var k keyedLocks
	var inA atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock := k.lock("a")
			if n := inA.Add(1); n != 1 {
				t.Errorf("%d holders of key a at once", n)
			}
			inA.Add(-1)
			unlock()
		}()
	}
	wg.Wait()
	// b can be taken while a is held.
	unlockA := k.lock("a")
	done := make(chan struct{})
	go func() { k.lock("b")(); close(done) }()
	<-done
	unlockA()
	if len(k.m) != 0 {
		t.Fatalf("entries left: %v", k.m)
	}
}
