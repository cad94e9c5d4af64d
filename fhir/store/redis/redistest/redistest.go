// Package redistest helps tests that run the Redis engine on a shared Redis: each keeps to a key prefix
// of its own and removes it afterwards (Drop).
package redistest

import (
	"context"
	"errors"
	"fmt"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"fhirgate/fhir/store/redis/internal/redisurl"
)

// Drop deletes every key under a prefix of the Redis at rawURL, with a connection of its own (tests clean
// up with it, after their stores are closed).
func Drop(ctx context.Context, rawURL, prefix string) (err error) {
	if prefix == "" {
		return errors.New("redistest: Drop needs a prefix")
	}
	opts, _, err := redisurl.Parse(rawURL)
	if err != nil {
		return err
	}
	rdb := goredis.NewClient(opts)
	defer func() {
		if cerr := rdb.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("redistest: closing the client: %w", cerr)
		}
	}()
	var cursor uint64
	for {
		keys, next, err := rdb.Scan(ctx, cursor, escapeGlob(prefix)+"*", 1000).Result()
		if err != nil {
			return fmt.Errorf("redistest: scanning %s: %w", prefix, err)
		}
		if len(keys) > 0 {
			if err := rdb.Unlink(ctx, keys...).Err(); err != nil {
				return fmt.Errorf("redistest: removing keys of %s: %w", prefix, err)
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// escapeGlob escapes the characters SCAN's MATCH pattern gives a meaning to.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[]\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}
