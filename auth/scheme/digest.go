package scheme

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	stdencoding "encoding"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

type sumFunc func([]byte) []byte

func md5Sum(b []byte) []byte    { s := md5.Sum(b); return s[:] }
func sha1Sum(b []byte) []byte   { s := sha1.Sum(b); return s[:] }
func sha256Sum(b []byte) []byte { s := sha256.Sum256(b); return s[:] }
func sha512Sum(b []byte) []byte { s := sha512.Sum512(b); return s[:] }

// newHash returns the hash.Hash constructor behind a sumFunc.
func newHash(sum sumFunc) func() hash.Hash {
	switch len(sum(nil)) {
	case md5.Size:
		return md5.New
	case sha1.Size:
		return sha1.New
	case sha256.Size:
		return sha256.New
	}
	return sha512.New
}

func verifyDigest(sum sumFunc) func([]byte, string) (bool, error) {
	return func(raw []byte, password string) (bool, error) {
		return equal(raw, sum([]byte(password))), nil
	}
}

func genDigest(sum sumFunc) func(string) ([]byte, error) {
	return func(password string) ([]byte, error) { return sum([]byte(password)), nil }
}

// verifySalted checks digest(password || salt) || salt.
func verifySalted(sum sumFunc, size int) func([]byte, string) (bool, error) {
	return func(raw []byte, password string) (bool, error) {
		if len(raw) <= size {
			return false, fmt.Errorf("%w: salted digest too short", ErrBadPassword)
		}
		salt := raw[size:]
		return equal(raw[:size], sum(append([]byte(password), salt...))), nil
	}
}

func genSalted(sum sumFunc) func(string) ([]byte, error) {
	return func(password string) ([]byte, error) {
		salt := make([]byte, 4)
		if _, err := rand.Read(salt); err != nil {
			return nil, err
		}
		return append(sum(append([]byte(password), salt...)), salt...), nil
	}
}

// verifyPBKDF2 checks Dovecot's "$1$<salt>$<rounds>$<hex PBKDF2-SHA1>".
func verifyPBKDF2(raw []byte, password string) (bool, error) {
	parts := strings.Split(string(raw), "$")
	if len(parts) != 5 || parts[0] != "" || parts[1] != "1" {
		return false, fmt.Errorf("%w: PBKDF2 is not $1$salt$rounds$hex", ErrBadPassword)
	}
	rounds, err := strconv.Atoi(parts[3])
	if err != nil || rounds < 1 || rounds > maxPBKDF2Rounds {
		return false, fmt.Errorf("%w: PBKDF2 rounds %q", ErrBadPassword, parts[3])
	}
	want, err := hex.DecodeString(parts[4])
	if err != nil || len(want) == 0 || len(want) > 64 {
		return false, fmt.Errorf("%w: PBKDF2 key", ErrBadPassword)
	}
	got, err := pbkdf2.Key(sha1.New, password, []byte(parts[2]), rounds, len(want))
	if err != nil {
		return false, err
	}
	return equal(got, want), nil
}

func genPBKDF2(password string) ([]byte, error) {
	salt, err := cryptSalt(16)
	if err != nil {
		return nil, err
	}
	key, err := pbkdf2.Key(sha1.New, password, []byte(salt), 5000, sha1.Size)
	if err != nil {
		return nil, err
	}
	return fmt.Appendf(nil, "$1$%s$5000$%x", salt, key), nil
}

// cramMD5Context is the HMAC-MD5 precomputed context Dovecot stores for
// CRAM-MD5: the MD5 state after the outer pad block, then after the inner
// one, each as four little-endian 32-bit words.
func cramMD5Context(password string) ([]byte, error) {
	key := []byte(password)
	if len(key) > 64 {
		key = md5Sum(key)
	}
	out := make([]byte, 0, 32)
	for _, pad := range []byte{0x5c, 0x36} {
		block := make([]byte, 64)
		copy(block, key)
		for i := range block {
			block[i] ^= pad
		}
		h := md5.New()
		h.Write(block)
		state, err := h.(stdencoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			return nil, err
		}
		// "md5\x01" then a, b, c, d big-endian.
		for i := range 4 {
			out = binary.LittleEndian.AppendUint32(out, binary.BigEndian.Uint32(state[4+4*i:]))
		}
	}
	return out, nil
}

func verifyCRAMMD5(raw []byte, password string) (bool, error) {
	if len(raw) != 32 {
		return false, fmt.Errorf("%w: CRAM-MD5 context is not 32 bytes", ErrBadPassword)
	}
	ctx, err := cramMD5Context(password)
	if err != nil {
		return false, err
	}
	return equal(raw, ctx), nil
}

func genCRAMMD5(password string) ([]byte, error) { return cramMD5Context(password) }

// scramKeys derives StoredKey and ServerKey (RFC 5802 section 3).
func scramKeys(sum sumFunc, password string, salt []byte, iter int) (stored, server []byte, err error) {
	h := newHash(sum)
	salted, err := pbkdf2.Key(h, password, salt, iter, len(sum(nil)))
	if err != nil {
		return nil, nil, err
	}
	mac := hmac.New(h, salted)
	mac.Write([]byte("Client Key"))
	stored = sum(mac.Sum(nil))
	mac = hmac.New(h, salted)
	mac.Write([]byte("Server Key"))
	return stored, mac.Sum(nil), nil
}

// verifySCRAM checks "<iter>,<b64 salt>,<b64 StoredKey>,<b64 ServerKey>".
func verifySCRAM(sum sumFunc) func([]byte, string) (bool, error) {
	return func(raw []byte, password string) (bool, error) {
		parts := strings.Split(string(raw), ",")
		if len(parts) != 4 {
			return false, fmt.Errorf("%w: SCRAM data is not iter,salt,stored,server", ErrBadPassword)
		}
		iter, err := strconv.Atoi(parts[0])
		if err != nil || iter < 1 || iter > maxPBKDF2Rounds {
			return false, fmt.Errorf("%w: SCRAM iterations %q", ErrBadPassword, parts[0])
		}
		salt, err1 := base64.StdEncoding.DecodeString(parts[1])
		want, err2 := base64.StdEncoding.DecodeString(parts[2])
		if err1 != nil || err2 != nil {
			return false, fmt.Errorf("%w: SCRAM base64", ErrBadPassword)
		}
		stored, _, err := scramKeys(sum, password, salt, iter)
		if err != nil {
			return false, err
		}
		return equal(stored, want), nil
	}
}

func genSCRAM(sum sumFunc) func(string) ([]byte, error) {
	return func(password string) ([]byte, error) {
		salt := make([]byte, 16)
		if _, err := rand.Read(salt); err != nil {
			return nil, err
		}
		stored, server, err := scramKeys(sum, password, salt, 4096)
		if err != nil {
			return nil, err
		}
		b := base64.StdEncoding
		return fmt.Appendf(nil, "4096,%s,%s,%s", b.EncodeToString(salt), b.EncodeToString(stored), b.EncodeToString(server)), nil
	}
}
