package sharedtest

import (
	"net"
	"net/url"
	"os"
	"testing"
	"time"
)

// RedisURL returns the Redis the tests use: $FHIRGATE_TEST_REDIS, or redis://127.0.0.1:6379/0. When it
// cannot be reached the test skips with a message, except under CI (CI=true), where it fails: CI starts
// Redis and must exercise it. Tests keep to their own key prefix and remove it afterwards.
func RedisURL(tb testing.TB) string {
	tb.Helper()
	raw := os.Getenv("FHIRGATE_TEST_REDIS")
	if raw == "" {
		raw = "redis://127.0.0.1:6379/0"
	}
	u, err := url.Parse(raw)
	if err != nil {
		tb.Fatalf("FHIRGATE_TEST_REDIS=%q: %v", raw, err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("Redis is not reachable at %s (%v); CI requires it", u.Host, err)
		}
		tb.Skipf("Redis is not reachable at %s (%v); skipping (set FHIRGATE_TEST_REDIS to use another)", u.Host, err)
	}
	if err := conn.Close(); err != nil {
		tb.Errorf("closing the probe connection to %s: %v", u.Host, err)
	}
	return raw
}
