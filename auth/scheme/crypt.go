package scheme

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"

	gocrypt "github.com/go-crypt/crypt"
	"github.com/go-crypt/crypt/algorithm/argon2"
	"github.com/go-crypt/crypt/algorithm/bcrypt"
	"github.com/go-crypt/crypt/algorithm/md5crypt"
	"github.com/go-crypt/crypt/algorithm/scrypt"
	"github.com/go-crypt/crypt/algorithm/sha1crypt"
	"github.com/go-crypt/crypt/algorithm/shacrypt"
	"github.com/go-crypt/x/yescrypt"
	xargon2 "golang.org/x/crypto/argon2"
	xbcrypt "golang.org/x/crypto/bcrypt"
)

// Cost limits for stored hashes. A stored hash is trusted admin data, but
// a corrupt or hostile line must not let one login burn minutes of CPU or
// gigabytes of memory.
const (
	maxBcryptCost   = 17
	maxSHACryptRnds = 10_000_000
	maxArgon2Mem    = 1 << 20 // KiB, 1 GiB
	maxArgon2Time   = 64
	maxArgon2Par    = 64
	maxYescryptMem  = 1 << 30 // bytes
	maxPBKDF2Rounds = 10_000_000
)

// cryptDecoder knows the crypt(3) formats go-crypt verifies. It is built
// once and never changed.
var cryptDecoder = sync.OnceValues(func() (*gocrypt.Decoder, error) {
	d := gocrypt.NewDecoder()
	for _, reg := range []func() error{
		func() error { return argon2.RegisterDecoder(d) },
		func() error { return bcrypt.RegisterDecoderStandard(d) },
		func() error { return md5crypt.RegisterDecoder(d) },
		func() error { return shacrypt.RegisterDecoder(d) },
		func() error { return scrypt.RegisterDecoderYescrypt(d) },
		func() error { return sha1crypt.RegisterDecoder(d) },
	} {
		if err := reg(); err != nil {
			return nil, err
		}
	}
	return d, nil
})

// verifyCrypt checks a crypt(3) string: traditional and BSDi DES here,
// everything else ($1$, $5$, $6$, $2a/b/y$, $y$, $sha1$, $argon2*$)
// through go-crypt.
func verifyCrypt(raw []byte, password string) (bool, error) {
	hash := string(raw)
	if isDESCrypt(hash) {
		got, err := desCryptString(password, hash)
		if err != nil {
			return false, err
		}
		return subtle.ConstantTimeCompare([]byte(got), raw) == 1, nil
	}
	if err := checkCryptCost(hash); err != nil {
		return false, err
	}
	if strings.HasPrefix(hash, "$2") && len(password) > 72 {
		// libcrypt's bcrypt uses the first 72 bytes only.
		password = password[:72]
	}
	dec, err := cryptDecoder()
	if err != nil {
		return false, err
	}
	digest, err := dec.Decode(hash)
	if err != nil {
		return false, fmt.Errorf("%w: %v", ErrBadPassword, err)
	}
	return digest.MatchAdvanced(password)
}

// checkCryptCost refuses parameters past the limits above.
func checkCryptCost(hash string) error {
	parts := strings.Split(hash, "$")
	if len(parts) < 3 {
		return nil
	}
	tooCostly := fmt.Errorf("%w: cost parameters above the limit", ErrBadPassword)
	switch id := parts[1]; {
	case strings.HasPrefix(id, "2") && len(id) <= 2:
		cost, err := strconv.Atoi(parts[2])
		if err != nil || cost > maxBcryptCost {
			return tooCostly
		}
	case id == "5" || id == "6":
		if r, ok := strings.CutPrefix(parts[2], "rounds="); ok {
			n, err := strconv.Atoi(r)
			if err != nil || n > maxSHACryptRnds {
				return tooCostly
			}
		}
	case strings.HasPrefix(id, "argon2"):
		for _, p := range parts[2:] {
			for kv := range strings.SplitSeq(p, ",") {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					continue
				}
				n, err := strconv.ParseUint(v, 10, 32)
				limit := map[string]uint64{"m": maxArgon2Mem, "t": maxArgon2Time, "p": maxArgon2Par}[k]
				if limit > 0 && (err != nil || n > limit) {
					return tooCostly
				}
			}
		}
	case id == "y":
		_, ln, r, err := yescrypt.DecodeSetting([]byte(parts[2]))
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadPassword, err)
		}
		if ln <= 0 || ln > 30 || r <= 0 || r > 1<<10 || (uint64(128*r)<<ln) > maxYescryptMem {
			return tooCostly
		}
	}
	return nil
}

// verifyMD5 is Dovecot's "MD5" scheme: an MD5-crypt string, or a raw
// 16-byte MD5 digest.
func verifyMD5(raw []byte, password string) (bool, error) {
	if strings.HasPrefix(string(raw), "$1$") {
		return verifyCrypt(raw, password)
	}
	if len(raw) == 32 {
		if d, err := hex.DecodeString(string(raw)); err == nil {
			raw = d
		}
	}
	if len(raw) == 16 {
		return equal(raw, md5Sum([]byte(password))), nil
	}
	return false, fmt.Errorf("%w: MD5 data is neither MD5-crypt nor a digest", ErrBadPassword)
}

func genBcrypt(password string) ([]byte, error) {
	if len(password) > 72 {
		password = password[:72]
	}
	h, err := xbcrypt.GenerateFromPassword([]byte(password), 5)
	if err != nil {
		return nil, err
	}
	// Same algorithm; Dovecot writes the $2y$ identifier.
	return append([]byte("$2y$"), h[4:]...), nil
}

func cryptSalt(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = cryptAlphabet[b[i]&63]
	}
	return string(b), nil
}

func genDESCrypt(password string) ([]byte, error) {
	salt, err := cryptSalt(2)
	if err != nil {
		return nil, err
	}
	s, err := desCryptString(password, salt)
	return []byte(s), err
}

func genMD5Crypt(password string) ([]byte, error) {
	h, err := md5crypt.New(md5crypt.WithVariant(md5crypt.VariantStandard), md5crypt.WithSaltLength(8))
	if err != nil {
		return nil, err
	}
	d, err := h.Hash(password)
	if err != nil {
		return nil, err
	}
	return []byte(d.Encode()), nil
}

func genSHACrypt(id int) func(string) ([]byte, error) {
	return func(password string) ([]byte, error) {
		v := shacrypt.VariantSHA512
		if id == 5 {
			v = shacrypt.VariantSHA256
		}
		h, err := shacrypt.New(shacrypt.WithVariant(v), shacrypt.WithIterations(shacrypt.IterationsDefaultOmitted), shacrypt.WithSaltLength(16))
		if err != nil {
			return nil, err
		}
		d, err := h.Hash(password)
		if err != nil {
			return nil, err
		}
		return []byte(d.Encode()), nil
	}
}

// genArgon2 uses libsodium's interactive defaults, as Dovecot does:
// ARGON2I m=32768,t=4 and ARGON2ID m=65536,t=3, p=1, 16-byte salt,
// 32-byte hash.
func genArgon2(id bool) func(string) ([]byte, error) {
	return func(password string) ([]byte, error) {
		salt := make([]byte, 16)
		if _, err := rand.Read(salt); err != nil {
			return nil, err
		}
		enc := base64.RawStdEncoding
		if id {
			key := xargon2.IDKey([]byte(password), salt, 3, 65536, 1, 32)
			return fmt.Appendf(nil, "$argon2id$v=19$m=65536,t=3,p=1$%s$%s", enc.EncodeToString(salt), enc.EncodeToString(key)), nil
		}
		key := xargon2.Key([]byte(password), salt, 4, 32768, 1, 32)
		return fmt.Appendf(nil, "$argon2i$v=19$m=32768,t=4,p=1$%s$%s", enc.EncodeToString(salt), enc.EncodeToString(key)), nil
	}
}
