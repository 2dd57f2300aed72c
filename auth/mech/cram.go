package mech

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"cote/auth/scheme"
)

// cramMD5 is CRAM-MD5, RFC 2195: the server sends a unique challenge in
// msg-id form, the client answers "user HEXDIGEST" with the HMAC-MD5 of
// the challenge keyed with the password. The passdb must give the
// password in plaintext or as a {CRAM-MD5} context.
type cramMD5 struct {
	v    Verifier
	chal []byte // nil until sent
}

func newCRAMMD5(v Verifier) *cramMD5 {
	return &cramMD5{v: v}
}

// cramChallenge makes "<random.time@host>" (RFC 2195 section 2).
func cramChallenge(now time.Time) []byte {
	var b [8]byte
	rand.Read(b[:])
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return fmt.Appendf(nil, "<%d.%d@%s>", binary.BigEndian.Uint64(b[:])>>1, now.Unix(), host)
}

// ParseCRAMMD5 splits a CRAM-MD5 response into the user and the 16-byte
// digest: the user is everything before the last space, the digest 32
// hex digits (RFC 2195 section 2).
func ParseCRAMMD5(resp []byte) (user string, digest []byte, err error) {
	i := bytes.LastIndexByte(resp, ' ')
	if i <= 0 || len(resp)-i-1 != 32 {
		return "", nil, ErrMalformed
	}
	digest, err = hex.DecodeString(string(resp[i+1:]))
	if err != nil || bytes.IndexByte(resp[:i], 0) >= 0 {
		return "", nil, ErrMalformed
	}
	return string(resp[:i]), digest, nil
}

// Step implements RFC 2195 section 2.
func (c *cramMD5) Step(ctx context.Context, resp []byte) ([]byte, bool, error) {
	if c.chal == nil {
		if len(resp) > 0 {
			// The client speaks first only in mechanisms that have
			// something to say; CRAM-MD5 does not.
			return nil, true, ErrMalformed
		}
		c.chal = cramChallenge(time.Now())
		return c.chal, false, nil
	}
	user, digest, err := ParseCRAMMD5(resp)
	if err != nil {
		return nil, true, err
	}
	cred, err := c.v.Credentials(ctx, Identity{Authcid: user}, "CRAM-MD5")
	if err != nil {
		return nil, true, err
	}
	want, err := scheme.CRAMMD5Digest(cred, c.chal)
	if err != nil {
		return nil, true, err
	}
	if subtle.ConstantTimeCompare(want, digest) != 1 {
		return nil, true, &Failure{}
	}
	return nil, true, nil
}
