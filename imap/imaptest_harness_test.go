//go:build imaptest

// Built only with -tags imaptest: a harness for Dovecot's imaptest, run
// by hand (see docs/imap.md), not part of the normal test run.

package imap

import (
	"bufio"
	"context"
	"encoding/base64"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"cote/storage"
	"cote/storage/maildir"
	"cote/storage/memstore"
)

// TestImaptestServer serves the engine for Dovecot's imaptest when
// COTE_IMAPTEST_ADDR is set (e.g. 127.0.0.1:14300), until the test
// binary is killed or times out (-test.timeout). It plays the login
// process: a greeting, CAPABILITY, and LOGIN or AUTHENTICATE PLAIN with
// any password; then Serve takes over. Every user has one store, shared
// by that user's connections as in the worker. COTE_IMAPTEST_STORE=maildir
// uses a Maildir with its index under a temporary directory instead of
// memstore. docs/imap.md has the command lines.
func TestImaptestServer(t *testing.T) {
	addr := os.Getenv("COTE_IMAPTEST_ADDR")
	if addr == "" {
		t.Fatal("set COTE_IMAPTEST_ADDR to the address to serve imaptest on")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var mu sync.Mutex // guards stores
	stores := map[string]storage.Store{}
	storeFor := func(user string) (storage.Store, error) {
		mu.Lock()
		defer mu.Unlock()
		if st, ok := stores[user]; ok {
			return st, nil
		}
		var st storage.Store
		if os.Getenv("COTE_IMAPTEST_STORE") == "maildir" {
			home := filepath.Join(dir, user)
			var err error
			st, err = maildir.Open(maildir.Options{Location: "maildir:~/Maildir", Home: home, User: user,
				QuotaRules: []string{"*:storage=1G"}})
			if err != nil {
				return nil, err
			}
		} else {
			st = memstore.New()
		}
		stores[user] = st
		return st, nil
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go imaptestLogin(ctx, conn, storeFor, log)
	}
}

// imaptestLogin is a minimal pre-login state (RFC 9051 section 6.2).
func imaptestLogin(ctx context.Context, conn net.Conn, storeFor func(string) (storage.Store, error), log *slog.Logger) {
	w := bufio.NewWriter(conn)
	r := bufio.NewReader(conn)
	reply := func(s string) { w.WriteString(s + "\r\n"); w.Flush() }
	reply("* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID ENABLE AUTH=PLAIN] cote ready.")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			conn.Close()
			return
		}
		f := strings.Fields(strings.TrimRight(line, "\r\n"))
		if len(f) < 2 {
			reply("* BAD Invalid command.")
			continue
		}
		tag, cmd := f[0], strings.ToUpper(f[1])
		user := ""
		switch cmd {
		case "CAPABILITY":
			reply("* CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID ENABLE AUTH=PLAIN")
			reply(tag + " OK Capability completed.")
			continue
		case "NOOP", "ID", "ENABLE":
			reply(tag + " OK " + cmd + " completed.")
			continue
		case "LOGOUT":
			reply("* BYE Logging out")
			reply(tag + " OK Logout completed.")
			conn.Close()
			return
		case "LOGIN":
			if len(f) < 4 {
				reply(tag + " BAD Missing arguments.")
				continue
			}
			user = strings.Trim(f[2], `"`)
		case "AUTHENTICATE":
			ir := ""
			if len(f) >= 4 {
				ir = f[3]
			} else {
				reply("+ ")
				l, err := r.ReadString('\n')
				if err != nil {
					conn.Close()
					return
				}
				ir = strings.TrimSpace(l)
			}
			b, err := base64.StdEncoding.DecodeString(ir)
			parts := strings.Split(string(b), "\x00")
			if err != nil || len(parts) != 3 {
				reply(tag + " NO Authentication failed.")
				continue
			}
			user = parts[1]
		default:
			reply(tag + " BAD Not logged in.")
			continue
		}
		st, err := storeFor(user)
		if err != nil {
			reply(tag + " NO [UNAVAILABLE] " + err.Error())
			continue
		}
		var leftover []byte
		if n := r.Buffered(); n > 0 {
			leftover, _ = r.Peek(n)
			leftover = append([]byte(nil), leftover...)
		}
		// URLAUTH URLs of other users (urlauth2) are fetched from
		// their stores, as a worker would ask the owner's worker.
		fetch := func(_ context.Context, req URLAuthRequest) (URLAuthResult, error) {
			owner, err := storeFor(req.Owner)
			if err != nil {
				return URLAuthResult{}, err
			}
			return FetchURLAuth(owner, req)
		}
		if err := Serve(ctx, conn, Options{Store: st, User: user, Tag: tag, Leftover: leftover, Log: log,
			URLAuthFetch: fetch}); err != nil {
			log.Error("serve", "err", err)
		}
		return
	}
}
