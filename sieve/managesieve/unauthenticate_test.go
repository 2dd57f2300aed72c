package managesieve

import (
	"errors"
	"testing"
	"time"
)

// RFC 5804 section 2.14.1: with Options.Unauthenticate the capability is
// listed, and UNAUTHENTICATE answers OK and hands the connection back
// with what the client pipelined after it.
func TestUnauthenticate(t *testing.T) {
	got := make(chan []byte, 1)
	srv := newServer(t, func(o *Options) {
		o.Leftover = []byte("NOOP\r\n")
		o.Unauthenticate = func(leftover []byte) error {
			got <- leftover
			return nil
		}
	})
	c := srv.dial()
	c.expect(`OK "NOOP completed."`)
	c.send("CAPABILITY\r\n")
	for _, prefix := range []string{`"IMPLEMENTATION" `, `"SIEVE" `, `"NOTIFY" `, `"MAXREDIRECTS" `, `"OWNER" `} {
		c.expectPrefix(prefix)
	}
	c.expect(`"UNAUTHENTICATE"`, `"VERSION" "1.0"`, `OK "Capability completed."`)
	c.cmd(`UNAUTHENTICATE "x"`).expect(`NO "UNAUTHENTICATE takes no arguments."`)
	c.send("UNAUTHENTICATE\r\nCAPABILITY\r\n").expect(`OK "Unauthenticate completed."`)
	select {
	case lo := <-got:
		if string(lo) != "CAPABILITY\r\n" {
			t.Errorf("leftover = %q", lo)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Unauthenticate not called")
	}
	if err := <-srv.errs; !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("Serve = %v, want ErrUnauthenticated", err)
	}
	c.expectEOF()
}
