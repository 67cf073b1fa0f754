package main

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// tputLevels are the containers in flight of the throughput rows.
var tputLevels = []struct {
	op       string
	inFlight int
}{{opTput1, 1}, {opTput8, 8}}

// throughput measures how many containers per second a stream of
// create, start and delete --force finishes, with k streams at once.
// Each round gives every runtime one batch at each level, the runtimes
// in turn, and the first round is warm-up. A batch is perStream
// containers per stream; its rate is containers over the batch's wall
// time, from the first create to the last delete.
func (b *bench) throughput(ctx context.Context, rounds, perStream int) {
	for round := 0; round <= rounds; round++ {
		measured := round > 0
		for _, lv := range tputLevels {
			for _, rt := range b.runtimes {
				if ctx.Err() != nil {
					b.notes = append(b.notes, fmt.Sprintf("interrupted in throughput round %d", round))
					return
				}
				if rt.broken != "" {
					continue
				}
				rate, errs := b.batch(rt, fmt.Sprintf("t%d-%d", lv.inFlight, round), lv.inFlight, perStream)
				for _, err := range errs {
					b.failures = append(b.failures, fmt.Sprintf("%s %s round %d: %v", rt.name, lv.op, round, err))
				}
				if measured && len(errs) == 0 {
					b.record(rt.name, lv.op, rate)
				}
			}
		}
	}
}

// batch runs k streams of n containers each and returns containers per
// second. A batch with any failure gives no rate.
func (b *bench) batch(rt *runtime, tag string, k, n int) (float64, []error) {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	quiet := runOpts{noRSS: true}
	start := time.Now()
	for s := 0; s < k; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				id := fmt.Sprintf("%s-%d-%d", tag, s, i)
				err := rt.stream(quiet, b.bundles.run, id)
				if err != nil {
					rt.forceDelete(id)
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	return float64(k*n) / wall.Seconds(), errs
}

// stream is one short container's life as an engine drives it: create,
// start, and delete --force once the process (/bin/true) is done or not.
func (rt *runtime) stream(o runOpts, bundle, id string) error {
	for _, args := range [][]string{
		{"create", "--bundle", bundle, id},
		{"start", id},
		{"delete", "--force", id},
	} {
		if res := rt.runWith(o, rt.bin, append([]string{"--root", rt.root}, args...)...); res.err != nil {
			return res.err
		}
	}
	return nil
}
