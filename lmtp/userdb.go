package lmtp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"cote/auth/masterclient"
)

// AuthUserdb is a UserLookup through auth's userdb socket (the
// auth-master protocol's USER command with service=lmtp). It connects
// on first use and again after the connection broke.
type AuthUserdb struct {
	dial func(ctx context.Context) (net.Conn, error)
	log  *slog.Logger

	mu     sync.Mutex // guards cl and closed; held while dialing
	cl     *masterclient.Client
	closed bool
}

// NewAuthUserdb makes a userdb client that gets its connections from
// dial: in the lmtp role (*ControlDeliverer).AuthConnect, which asks the
// master for one.
func NewAuthUserdb(dial func(ctx context.Context) (net.Conn, error), log *slog.Logger) *AuthUserdb {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &AuthUserdb{dial: dial, log: log}
}

// Lookup implements UserLookup.
func (u *AuthUserdb) Lookup(ctx context.Context, user string) (string, []string, error) {
	for attempt := 0; ; attempt++ {
		cl, err := u.client(ctx)
		if err != nil {
			return "", nil, err
		}
		name, fields, err := cl.User(ctx, user, "lmtp")
		switch {
		case err == nil:
			return name, fields, nil
		case errors.Is(err, masterclient.ErrNotFound):
			return "", nil, ErrUnknownUser
		case errors.Is(err, masterclient.ErrTemporary), ctx.Err() != nil:
			return "", nil, err
		}
		// The connection is broken (closed, or auth said something we
		// do not understand): drop it and try once on a new one; USER
		// has no side effects.
		u.drop(cl)
		if attempt > 0 {
			return "", nil, err
		}
		u.log.Info("auth userdb connection lost, reconnecting", "err", err)
	}
}

func (u *AuthUserdb) client(ctx context.Context) (*masterclient.Client, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return nil, errors.New("lmtp: userdb closed")
	}
	if u.cl != nil {
		return u.cl, nil
	}
	conn, err := u.dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to auth userdb: %w", err)
	}
	u.cl = masterclient.New(conn)
	return u.cl, nil
}

func (u *AuthUserdb) drop(cl *masterclient.Client) {
	u.mu.Lock()
	if u.cl == cl {
		u.cl = nil
	}
	u.mu.Unlock()
	cl.Close()
}

// Close closes the connection; later lookups fail.
func (u *AuthUserdb) Close() error {
	u.mu.Lock()
	cl := u.cl
	u.cl, u.closed = nil, true
	u.mu.Unlock()
	if cl != nil {
		return cl.Close()
	}
	return nil
}
