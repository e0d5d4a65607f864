package index

import (
	"context"
	"runtime"
	"sync"
)

// pipelineChunk is how many upserts one job encodes.
const pipelineChunk = 256

// pipeline prepares upserts on worker goroutines while write consumes them,
// in order, on the caller's goroutine (the one holding the transaction).
// Encoding JSON and flattening values costs about as much as SQLite's
// writing, so on two cores this nearly halves a cold apply. It returns
// after every goroutine it started has ended.
func pipeline(ctx context.Context, ups []Upsert, prepare func(Upsert) (prepared, error), write func(prepared) error) error {
	workers := min(runtime.GOMAXPROCS(0), 4)
	if len(ups) <= pipelineChunk || workers < 2 {
		for _, u := range ups {
			p, err := prepare(u)
			if err != nil {
				return err
			}
			if err := write(p); err != nil {
				return err
			}
		}
		return nil
	}

	type result struct {
		ps  []prepared
		err error
	}
	type job struct {
		ups []Upsert
		out chan result
	}
	ctx, cancel := context.WithCancel(ctx)
	jobs := make(chan job)
	// order holds the jobs' results in upsert order; its capacity bounds
	// how far encoding runs ahead of writing.
	order := make(chan chan result, 2*workers)
	var wg sync.WaitGroup
	defer func() {
		cancel() // stops the feeder and, through it, the workers
		wg.Wait()
	}()

	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(jobs)
		defer close(order)
		for i := 0; i < len(ups); i += pipelineChunk {
			j := job{ups: ups[i:min(i+pipelineChunk, len(ups))], out: make(chan result, 1)}
			select {
			case order <- j.out:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- j:
			case <-ctx.Done():
				return
			}
		}
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				r := result{ps: make([]prepared, 0, len(j.ups))}
				for _, u := range j.ups {
					p, err := prepare(u)
					if err != nil {
						r.err = err
						break
					}
					r.ps = append(r.ps, p)
				}
				j.out <- r // buffered: never blocks
			}
		}()
	}

	for out := range order {
		var r result
		select {
		case r = <-out:
		case <-ctx.Done():
			return ctx.Err()
		}
		if r.err != nil {
			return r.err
		}
		for _, p := range r.ps {
			if err := write(p); err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}
