package redis

import (
	"context"

	goredis "github.com/redis/go-redis/v9"
)

// writes collects a commit's writes, grouped per key so that a sorted set gets one ZADD.
type writes struct {
	order []string
	sets  map[string][]byte
	dels  map[string]bool
	hsets map[string][]any
	zadds map[string][]goredis.Z
	zrems map[string][]any
}

func newWrites() *writes {
	return &writes{sets: map[string][]byte{}, dels: map[string]bool{}, hsets: map[string][]any{},
		zadds: map[string][]goredis.Z{}, zrems: map[string][]any{}}
}

func (w *writes) touch(key string) {
	if _, ok := w.sets[key]; ok {
		return
	}
	if w.dels[key] || w.hsets[key] != nil || w.zadds[key] != nil || w.zrems[key] != nil {
		return
	}
	w.order = append(w.order, key)
}

func (w *writes) set(key string, v []byte) {
	w.touch(key)
	w.sets[key] = v
	delete(w.dels, key)
}

func (w *writes) del(key string) {
	w.touch(key)
	delete(w.sets, key)
	w.dels[key] = true
}

func (w *writes) hset(key, field string, v []byte) {
	w.touch(key)
	w.hsets[key] = append(w.hsets[key], field, v)
}

func (w *writes) zadd(key string, score float64, member []byte) {
	w.touch(key)
	w.zadds[key] = append(w.zadds[key], goredis.Z{Score: score, Member: string(member)})
}

func (w *writes) zrem(key string, member []byte) {
	w.touch(key)
	w.zrems[key] = append(w.zrems[key], string(member))
}

// apply queues the writes: removals before additions, so that an entry removed and added again by the
// same commit (two resources never share an entry) stays.
func (w *writes) apply(ctx context.Context, p goredis.Pipeliner) {
	for _, k := range w.order {
		if m := w.zrems[k]; len(m) > 0 {
			p.ZRem(ctx, k, m...)
		}
		if z := w.zadds[k]; len(z) > 0 {
			p.ZAdd(ctx, k, z...)
		}
		if h := w.hsets[k]; len(h) > 0 {
			p.HSet(ctx, k, h...)
		}
		if v, ok := w.sets[k]; ok {
			p.Set(ctx, k, v, 0)
		}
		if w.dels[k] {
			p.Del(ctx, k)
		}
	}
}
