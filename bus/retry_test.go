package bus

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestRetryStopsOnSuccessNoRetryAndGiveUp(t *testing.T) {
	p := RetryPolicy{Initial: time.Millisecond, MaxInterval: 2 * time.Millisecond, MaxAttempts: 4, Jitter: -1}
	boom := errors.New("boom")
	calls := 0
	if err := Retry(context.Background(), p, func(n int) error {
		calls++
		if n != calls {
			t.Fatalf("attempt numbered %d, want %d", n, calls)
		}
		if n < 3 {
			return boom
		}
		return nil
	}); err != nil || calls != 3 {
		t.Fatalf("Retry = %v after %d calls; want nil after 3", err, calls)
	}
	calls = 0
	if err := Retry(context.Background(), p, func(int) error { calls++; return boom }); !errors.Is(err, boom) || calls != 4 {
		t.Fatalf("Retry = %v after %d calls; want boom after MaxAttempts 4", err, calls)
	}
	calls = 0
	err := Retry(context.Background(), p, func(int) error { calls++; return NoRetry(boom) })
	var nr noRetry
	if err != boom || errors.As(err, &nr) || calls != 1 {
		t.Fatalf("Retry = %#v after %d calls; want the bare error after 1", err, calls)
	}
}

func TestRetryWaitEndsOnContext(t *testing.T) {
	p := RetryPolicy{Initial: time.Hour, MaxInterval: time.Hour, MaxAttempts: 10}
	ctx, cancel := context.WithCancel(context.Background())
	boom := errors.New("boom")
	done := make(chan error, 1)
	go func() { done <- Retry(ctx, p, func(int) error { return boom }) }()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, boom) {
			t.Fatalf("Retry = %v, want the last error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Retry kept waiting after its context ended")
	}
}

func TestRetryAfterOverridesBackoff(t *testing.T) {
	p := RetryPolicy{Initial: time.Hour, MaxInterval: time.Hour, MaxAttempts: 2}
	boom := errors.New("busy")
	start := time.Now()
	calls := 0
	err := Retry(context.Background(), p, func(int) error { calls++; return RetryAfter(boom, time.Millisecond) })
	if err != boom || calls != 2 || time.Since(start) > time.Minute {
		t.Fatalf("Retry = %#v after %d calls in %v; want the bare error after 2, quickly", err, calls, time.Since(start))
	}
}

func TestBackoffJitterBounds(t *testing.T) {
	p := RetryPolicy{Initial: 100 * time.Millisecond, MaxInterval: time.Second, Jitter: 0.5}
	for range 200 {
		if d := p.Backoff(2); d < 100*time.Millisecond || d > 300*time.Millisecond {
			t.Fatalf("Backoff(2) = %v, want 200 ms ± 50 %%", d)
		}
	}
	p.Jitter = -1
	if d := p.Backoff(10); d != time.Second {
		t.Fatalf("Backoff(10) without jitter = %v, want the 1 s cap", d)
	}
}
