package scheme

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrNoCredentials reports a stored password that cannot be turned into
// the credentials a challenge-response mechanism needs (a one-way hash
// of another scheme).
var ErrNoCredentials = errors.New("stored password cannot give the requested credentials")

// plaintext reports whether a scheme stores the password itself.
func plaintext(s string) bool {
	return s == "PLAIN" || s == "CLEAR" || s == "CLEARTEXT"
}

// Credentials returns the stored password as raw credentials of scheme
// want (CRAM-MD5: the 32-byte HMAC-MD5 context; SCRAM-SHA-1 and
// SCRAM-SHA-256: "iter,salt,storedkey,serverkey"), as Dovecot's
// passdb_get_credentials does: a password stored in that scheme is
// returned as is, a plaintext one is converted (SCRAM with a fresh salt),
// and anything else is ErrNoCredentials.
func Credentials(stored, defaultScheme, want string) ([]byte, error) {
	p, err := Parse(stored, defaultScheme)
	if err != nil {
		return nil, err
	}
	want = strings.ToUpper(want)
	if want == "HMAC-MD5" {
		want = "CRAM-MD5"
	}
	have := p.Scheme
	if have == "HMAC-MD5" {
		have = "CRAM-MD5"
	}
	if have == want {
		return p.Raw, nil
	}
	if !plaintext(p.Scheme) {
		return nil, fmt.Errorf("%w: want %s, have %s", ErrNoCredentials, want, p.Scheme)
	}
	d, ok := schemes[want]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownScheme, want)
	}
	return d.generate(string(p.Raw))
}

// CRAMMD5Digest computes HMAC-MD5(password, challenge) (RFC 2104) from
// the stored CRAM-MD5 context (the MD5 states after the outer and the
// inner pad block), without knowing the password.
func CRAMMD5Digest(context, challenge []byte) ([]byte, error) {
	if len(context) != 32 {
		return nil, fmt.Errorf("%w: CRAM-MD5 context is not 32 bytes", ErrBadPassword)
	}
	resume := func(words []byte) ([]byte, error) {
		// crypto/md5's marshalled state: magic, a b c d big-endian,
		// the 64-byte block buffer, the length so far.
		state := make([]byte, 0, 4+16+64+8)
		state = append(state, "md5\x01"...)
		for i := range 4 {
			state = binary.BigEndian.AppendUint32(state, binary.LittleEndian.Uint32(words[4*i:]))
		}
		state = append(state, make([]byte, 64)...)
		return binary.BigEndian.AppendUint64(state, 64), nil
	}
	outerState, _ := resume(context[:16])
	innerState, _ := resume(context[16:])
	inner := md5.New()
	if err := inner.(interface{ UnmarshalBinary([]byte) error }).UnmarshalBinary(innerState); err != nil {
		return nil, err
	}
	inner.Write(challenge)
	outer := md5.New()
	if err := outer.(interface{ UnmarshalBinary([]byte) error }).UnmarshalBinary(outerState); err != nil {
		return nil, err
	}
	outer.Write(inner.Sum(nil))
	return outer.Sum(nil), nil
}

// SCRAMKeys are stored SCRAM credentials (RFC 5802 section 3).
type SCRAMKeys struct {
	Iter                 int
	Salt                 []byte
	StoredKey, ServerKey []byte
}

// ParseSCRAM decodes "<iter>,<b64 salt>,<b64 StoredKey>,<b64 ServerKey>";
// size is the hash size the keys must have.
func ParseSCRAM(raw []byte, size int) (SCRAMKeys, error) {
	parts := strings.Split(string(raw), ",")
	if len(parts) != 4 {
		return SCRAMKeys{}, fmt.Errorf("%w: SCRAM data is not iter,salt,stored,server", ErrBadPassword)
	}
	iter, err := strconv.Atoi(parts[0])
	if err != nil || iter < 1 || iter > maxPBKDF2Rounds {
		return SCRAMKeys{}, fmt.Errorf("%w: SCRAM iterations %q", ErrBadPassword, parts[0])
	}
	b := base64.StdEncoding
	salt, err1 := b.DecodeString(parts[1])
	stored, err2 := b.DecodeString(parts[2])
	server, err3 := b.DecodeString(parts[3])
	if err1 != nil || err2 != nil || err3 != nil || len(salt) == 0 || len(stored) != size || len(server) != size {
		return SCRAMKeys{}, fmt.Errorf("%w: SCRAM keys", ErrBadPassword)
	}
	return SCRAMKeys{Iter: iter, Salt: salt, StoredKey: stored, ServerKey: server}, nil
}

// SCRAMFromPassword derives stored SCRAM keys for a known salt and
// iteration count; tests and the RFC vectors use it.
func SCRAMFromPassword(hashName, password string, salt []byte, iter int) (SCRAMKeys, error) {
	var sum sumFunc
	switch strings.ToUpper(hashName) {
	case "SHA-1", "SHA1":
		sum = sha1Sum
	case "SHA-256", "SHA256":
		sum = sha256Sum
	default:
		return SCRAMKeys{}, fmt.Errorf("%w: SCRAM hash %q", ErrUnknownScheme, hashName)
	}
	stored, server, err := scramKeys(sum, password, salt, iter)
	if err != nil {
		return SCRAMKeys{}, err
	}
	return SCRAMKeys{Iter: iter, Salt: salt, StoredKey: stored, ServerKey: server}, nil
}

// String encodes k as the SCRAM scheme's data.
func (k SCRAMKeys) String() string {
	b := base64.StdEncoding
	return fmt.Sprintf("%d,%s,%s,%s", k.Iter, b.EncodeToString(k.Salt), b.EncodeToString(k.StoredKey), b.EncodeToString(k.ServerKey))
}
