// Package redisurl reads the URL of the Redis a store lives in. It is shared by the engine (redis.Open,
// redis.ParseURL) and by its test helpers (redistest), which must not import the engine: the engine's own
// tests use them.
package redisurl

import (
	"crypto/tls"
	"fmt"
	"net/url"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Parse reads a redis:// or rediss:// URL (and its optional prefix parameter) into client options, with
// timeouts set and TLS at 1.2 or later.
func Parse(raw string) (*goredis.Options, string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		return nil, "", fmt.Errorf("redis: %q is not a redis:// or rediss:// URL", raw)
	}
	q := u.Query()
	prefix := q.Get("prefix")
	q.Del("prefix")
	u.RawQuery = q.Encode()
	opts, err := goredis.ParseURL(u.String())
	if err != nil {
		return nil, "", fmt.Errorf("redis: %w", err)
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 5 * time.Second
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = 5 * time.Second
	}
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = 5 * time.Second
	}
	if u.Scheme == "rediss" && opts.TLSConfig != nil && opts.TLSConfig.MinVersion < tls.VersionTLS12 {
		opts.TLSConfig.MinVersion = tls.VersionTLS12
	}
	return opts, prefix, nil
}
