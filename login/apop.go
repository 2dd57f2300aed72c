package login

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strconv"
)

// APOPChallenge returns the challenge (RFC 1939 section 7) to put in a
// POP3 greeting when auth offers the private APOP mechanism and the
// server enables it; ok is false otherwise. The challenge names the auth
// process and this process's connection to it, which auth checks.
func (c *Client) APOPChallenge(ctx context.Context) (challenge string, ok bool) {
	if !containsFold(c.srv.Mechanisms, "APOP") { // auth_mechanisms must name it
		return "", false
	}
	found := false
	for _, m := range c.srv.auth.mechanisms() {
		if m.Name == "APOP" {
			found = true
		}
	}
	if !found {
		return "", false
	}
	ac, err := c.srv.auth.get(ctx)
	if err != nil {
		return "", false
	}
	var b [8]byte
	rand.Read(b[:])
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	c.apopChallenge = "<" + hex32(ac.spid) + "." + hex32(ac.cuid) + "." + hex.EncodeToString(b[:]) + "@" + host + ">"
	return c.apopChallenge, true
}

func hex32(n uint32) string { return strconv.FormatUint(uint64(n), 16) }

// AuthenticateAPOP logs in with POP3's APOP: digest is the client's hex
// MD5 of the greeting's challenge and the password. It fails when no
// challenge was sent.
func (c *Client) AuthenticateAPOP(ctx context.Context, user, digest string) (*AuthSuccess, error) {
	if c.apopChallenge == "" {
		return nil, &AuthFailure{Code: FailMechInvalid}
	}
	ir := []byte(c.apopChallenge + "\x00" + user + "\x00" + digest)
	return c.authenticate(ctx, Mech{Name: "APOP", Private: true}, ir, nil)
}

// APOPOffered reports whether the greeting carried an APOP challenge.
func (c *Client) APOPOffered() bool { return c.apopChallenge != "" }
