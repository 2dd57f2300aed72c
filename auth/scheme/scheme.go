// Package scheme verifies and generates stored passwords in Dovecot's
// "{SCHEME}data" form: PLAIN and friends, libc crypt(3) strings (DES, BSDi,
// MD5, SHA-256, SHA-512, bcrypt, yescrypt), Argon2, salted and unsalted
// SHA and MD5 digests, PBKDF2, CRAM-MD5 and SCRAM contexts. A ".b64",
// ".base64" or ".hex" suffix on the scheme name overrides how the data is
// encoded, as in Dovecot (src/auth/password-scheme.c).
package scheme

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrUnknownScheme is returned for a scheme name this package does not know.
var ErrUnknownScheme = errors.New("unknown password scheme")

// ErrBadPassword reports stored data that cannot be decoded for its scheme.
var ErrBadPassword = errors.New("malformed stored password")

// encoding of a scheme's data part.
type encoding int

const (
	encNone encoding = iota
	encBase64
	encHex
)

type def struct {
	enc encoding
	// rawLen is the fixed length of the raw data, used to tell hex from
	// base64 when the stored form does not say; 0 when variable.
	rawLen   int
	verify   func(raw []byte, password string) (bool, error)
	generate func(password string) ([]byte, error)
}

// schemes is the closed set of supported schemes, keyed by upper-case name.
var schemes = map[string]def{
	"PLAIN":         {enc: encNone, verify: verifyPlain, generate: genPlain},
	"CLEAR":         {enc: encNone, verify: verifyPlain, generate: genPlain},
	"CLEARTEXT":     {enc: encNone, verify: verifyPlain, generate: genPlain},
	"PLAIN-TRUNC":   {enc: encNone, verify: verifyPlainTrunc, generate: genPlainTrunc},
	"CRYPT":         {enc: encNone, verify: verifyCrypt, generate: genBcrypt},
	"DES-CRYPT":     {enc: encNone, verify: verifyCrypt, generate: genDESCrypt},
	"MD5-CRYPT":     {enc: encNone, verify: verifyCrypt, generate: genMD5Crypt},
	"MD5":           {enc: encNone, verify: verifyMD5, generate: genMD5Crypt},
	"SHA256-CRYPT":  {enc: encNone, verify: verifyCrypt, generate: genSHACrypt(5)},
	"SHA512-CRYPT":  {enc: encNone, verify: verifyCrypt, generate: genSHACrypt(6)},
	"BLF-CRYPT":     {enc: encNone, verify: verifyCrypt, generate: genBcrypt},
	"ARGON2I":       {enc: encNone, verify: verifyCrypt, generate: genArgon2(false)},
	"ARGON2ID":      {enc: encNone, verify: verifyCrypt, generate: genArgon2(true)},
	"SHA":           {enc: encBase64, rawLen: 20, verify: verifyDigest(sha1Sum), generate: genDigest(sha1Sum)},
	"SHA1":          {enc: encBase64, rawLen: 20, verify: verifyDigest(sha1Sum), generate: genDigest(sha1Sum)},
	"SHA256":        {enc: encBase64, rawLen: 32, verify: verifyDigest(sha256Sum), generate: genDigest(sha256Sum)},
	"SHA512":        {enc: encBase64, rawLen: 64, verify: verifyDigest(sha512Sum), generate: genDigest(sha512Sum)},
	"SSHA":          {enc: encBase64, verify: verifySalted(sha1Sum, 20), generate: genSalted(sha1Sum)},
	"SSHA256":       {enc: encBase64, verify: verifySalted(sha256Sum, 32), generate: genSalted(sha256Sum)},
	"SSHA512":       {enc: encBase64, verify: verifySalted(sha512Sum, 64), generate: genSalted(sha512Sum)},
	"SMD5":          {enc: encBase64, verify: verifySalted(md5Sum, 16), generate: genSalted(md5Sum)},
	"PLAIN-MD5":     {enc: encHex, rawLen: 16, verify: verifyDigest(md5Sum), generate: genDigest(md5Sum)},
	"LDAP-MD5":      {enc: encBase64, rawLen: 16, verify: verifyDigest(md5Sum), generate: genDigest(md5Sum)},
	"PBKDF2":        {enc: encNone, verify: verifyPBKDF2, generate: genPBKDF2},
	"CRAM-MD5":      {enc: encHex, rawLen: 32, verify: verifyCRAMMD5, generate: genCRAMMD5},
	"HMAC-MD5":      {enc: encHex, rawLen: 32, verify: verifyCRAMMD5, generate: genCRAMMD5},
	"SCRAM-SHA-1":   {enc: encNone, verify: verifySCRAM(sha1Sum), generate: genSCRAM(sha1Sum)},
	"SCRAM-SHA-256": {enc: encNone, verify: verifySCRAM(sha256Sum), generate: genSCRAM(sha256Sum)},
}

// Names lists the supported scheme names, sorted.
func Names() []string {
	names := make([]string, 0, len(schemes))
	for n := range schemes {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Known reports whether name (with an optional encoding suffix) is a
// supported scheme.
func Known(name string) bool {
	n, _, err := splitName(name)
	if err != nil {
		return false
	}
	_, ok := schemes[n]
	return ok
}

// Password is a stored password taken apart.
type Password struct {
	Scheme string // upper-case scheme name without suffix
	Raw    []byte // data after decoding its encoding
}

// splitName splits "SHA256.hex" into the upper-case scheme and the
// encoding override (-1 when none).
func splitName(name string) (string, encoding, error) {
	name = strings.ToUpper(name)
	base, suffix, ok := strings.Cut(name, ".")
	if !ok {
		return name, -1, nil
	}
	switch suffix {
	case "B64", "BASE64":
		return base, encBase64, nil
	case "HEX":
		return base, encHex, nil
	}
	return "", 0, fmt.Errorf("%w: %q", ErrUnknownScheme, name)
}

// Parse takes a stored password apart. Without a "{SCHEME}" prefix the
// defaultScheme applies (passwd-file's default is CRYPT).
func Parse(stored, defaultScheme string) (Password, error) {
	name, data := defaultScheme, stored
	if strings.HasPrefix(stored, "{") {
		if end := strings.IndexByte(stored, '}'); end > 0 {
			name, data = stored[1:end], stored[end+1:]
		}
	}
	base, enc, err := splitName(name)
	if err != nil {
		return Password{}, err
	}
	d, ok := schemes[base]
	if !ok {
		return Password{}, fmt.Errorf("%w: %q", ErrUnknownScheme, name)
	}
	raw, err := decodeData(data, d, enc)
	if err != nil {
		return Password{}, fmt.Errorf("%w: scheme %s: %v", ErrBadPassword, base, err)
	}
	return Password{Scheme: base, Raw: raw}, nil
}

func decodeData(data string, d def, override encoding) ([]byte, error) {
	enc := d.enc
	if override >= 0 {
		enc = override
	} else if d.rawLen > 0 {
		// As Dovecot does: a data part of exactly twice the raw
		// length is hex even where base64 is the default, and the
		// other way round.
		switch {
		case enc == encBase64 && len(data) == 2*d.rawLen:
			if raw, err := hex.DecodeString(data); err == nil {
				return raw, nil
			}
		case enc == encHex && len(data) != 2*d.rawLen:
			enc = encBase64
		}
	}
	switch enc {
	case encBase64:
		return base64.StdEncoding.DecodeString(data)
	case encHex:
		return hex.DecodeString(data)
	}
	return []byte(data), nil
}

// Verify reports whether password matches the stored password. An error
// means the stored form is unusable (unknown scheme, bad encoding, a cost
// beyond the limits), never that the password is wrong.
func Verify(stored, password, defaultScheme string) (bool, error) {
	p, err := Parse(stored, defaultScheme)
	if err != nil {
		return false, err
	}
	return p.Verify(password)
}

// Verify checks password against p.
func (p Password) Verify(password string) (bool, error) {
	d, ok := schemes[p.Scheme]
	if !ok {
		return false, fmt.Errorf("%w: %q", ErrUnknownScheme, p.Scheme)
	}
	return d.verify(p.Raw, password)
}

// Generate hashes password with scheme (optionally suffixed .b64 or .hex)
// and returns "{SCHEME}data", as `doveadm pw -s SCHEME` does. The
// parameters follow Dovecot 2.3's defaults (bcrypt cost 5, SHA-crypt 5000
// rounds, PBKDF2 5000 rounds, SCRAM 4096 iterations).
func Generate(scheme, password string) (string, error) {
	base, enc, err := splitName(scheme)
	if err != nil {
		return "", err
	}
	d, ok := schemes[base]
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrUnknownScheme, scheme)
	}
	raw, err := d.generate(password)
	if err != nil {
		return "", fmt.Errorf("generate %s: %w", base, err)
	}
	if enc < 0 {
		enc = d.enc
	}
	var data string
	switch enc {
	case encBase64:
		data = base64.StdEncoding.EncodeToString(raw)
	case encHex:
		data = hex.EncodeToString(raw)
	default:
		data = string(raw)
	}
	return "{" + strings.ToUpper(scheme) + "}" + data, nil
}

func equal(a, b []byte) bool {
	return len(a) == len(b) && subtle.ConstantTimeCompare(a, b) == 1
}

func verifyPlain(raw []byte, password string) (bool, error) {
	return equal(raw, []byte(password)), nil
}

func genPlain(password string) ([]byte, error) { return []byte(password), nil }

// genPlainTrunc writes "<length>-<password>", the form Dovecot's verify
// requires (its own generator omits the length).
func genPlainTrunc(password string) ([]byte, error) {
	return fmt.Appendf(nil, "%d-%s", len(password), password), nil
}

// verifyPlainTrunc handles "<length>-<password>": the stored password was
// truncated to length bytes, so a longer candidate is compared on its
// first length bytes. Data without the prefix compares as PLAIN.
func verifyPlainTrunc(raw []byte, password string) (bool, error) {
	s := string(raw)
	n, rest, ok := strings.Cut(s, "-")
	trunc := 0
	if ok && n != "" && len(n) < 6 {
		for _, c := range n {
			if c < '0' || c > '9' {
				ok = false
				break
			}
			trunc = trunc*10 + int(c-'0')
		}
	} else {
		ok = false
	}
	if !ok {
		return verifyPlain(raw, password)
	}
	if trunc > 0 && len(password) > trunc && len(rest) == trunc {
		password = password[:trunc]
	}
	return equal([]byte(rest), []byte(password)), nil
}
