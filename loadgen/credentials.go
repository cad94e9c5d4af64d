package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Credentials give the bearer token sent with every request: none, a fixed token, or the output of a
// command run again when the server answers 401 (at most once every RefreshInterval), so that a long
// run outlives a token's expiry.
type Credentials struct {
	command string

	mu      sync.Mutex
	token   string
	fetched time.Time
}

// RefreshInterval is the shortest time between two runs of a token command.
const RefreshInterval = 5 * time.Second

// Bearer returns credentials that always send token; an empty token sends no Authorization header.
func Bearer(token string) *Credentials { return &Credentials{token: strings.TrimSpace(token)} }

// TokenCommand returns credentials whose token is the standard output of command, run with sh -c,
// trimmed. The command runs once here and again on a 401.
func TokenCommand(ctx context.Context, command string) (*Credentials, error) {
	c := &Credentials{command: command}
	if err := c.fetch(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// header returns the Authorization header value, or "" for none.
func (c *Credentials) header() string {
	if c == nil {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token == "" {
		return ""
	}
	return "Bearer " + c.token
}

// refresh runs the token command again after a 401, unless it ran less than RefreshInterval ago. When
// the command fails the token stays as it was.
func (c *Credentials) refresh(ctx context.Context) error {
	if c == nil || c.command == "" {
		return nil
	}
	c.mu.Lock()
	recent := time.Since(c.fetched) < RefreshInterval
	c.mu.Unlock()
	if recent {
		return nil
	}
	return c.fetch(ctx)
}

// renewable reports whether the token comes from a command that can be run again.
func (c *Credentials) renewable() bool { return c != nil && c.command != "" }

func (c *Credentials) fetch(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, "sh", "-c", c.command)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fetched = time.Now()
	if err != nil {
		return fmt.Errorf("token command %q: %v: %s", c.command, err, strings.TrimSpace(errb.String()))
	}
	tok := strings.TrimSpace(out.String())
	if tok == "" || strings.ContainsAny(tok, " \n\t") {
		return errors.New("token command printed no single token on its standard output")
	}
	c.token = tok
	return nil
}
