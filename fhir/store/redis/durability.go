package redis

import (
	"context"
	"errors"
	"fmt"

	goredis "github.com/redis/go-redis/v9"
)

// Durability describes the server's persistence as read at start.
type Durability struct {
	AppendOnly, AppendFsync string
	// Safe is true when an acknowledged write survives a crash of the server (AOF, fsync always).
	Safe bool
	// Accepted is true when the engine runs on unsafe settings because the operator said so.
	Accepted bool
}

func (d Durability) String() string {
	s := fmt.Sprintf("appendonly=%s appendfsync=%s", d.AppendOnly, d.AppendFsync)
	switch {
	case d.Safe:
		return s + " (acknowledged writes survive a crash)"
	case d.Accepted:
		return s + " (ACKNOWLEDGED WRITES CAN BE LOST; accepted by the operator)"
	default:
		return s + " (acknowledged writes can be lost)"
	}
}

// ErrUnsafePersistence is returned by Open when the server can lose acknowledged writes.
var ErrUnsafePersistence = errors.New("redis: the server can lose acknowledged writes")

func readDurability(ctx context.Context, rdb *goredis.Client) (Durability, error) {
	var d Durability
	for _, name := range []string{"appendonly", "appendfsync"} {
		m, err := rdb.ConfigGet(ctx, name).Result()
		if err != nil {
			return d, err
		}
		v, ok := m[name]
		if !ok {
			return d, fmt.Errorf("the server does not report %s", name)
		}
		if name == "appendonly" {
			d.AppendOnly = v
		} else {
			d.AppendFsync = v
		}
	}
	d.Safe = d.AppendOnly == "yes" && d.AppendFsync == "always"
	return d, nil
}

// Durability returns the server's persistence, as read at start.
func (s *Store) Durability() Durability { return s.durability }
