package scheme

import (
	"crypto/des"
	"errors"
)

// Traditional DES crypt(3) ("DES-CRYPT", 13 characters) and BSDi extended
// DES crypt ("_" + 4 count + 4 salt + 11 hash), as libxcrypt still
// verifies and `mkpasswd -m descrypt|bsdicrypt` writes. Neither
// golang.org/x/crypto nor go-crypt has them, and crypto/des cannot take
// the salt (it perturbs the E expansion), so this is a small bit-level DES.
// It is slow by today's standards, which does not matter for 25 rounds.

const cryptAlphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// maxBSDiCount bounds the BSDi iteration count (libcrypt writes 725 by
// default; the format allows 2^24, which this slow DES would take minutes
// for).
const maxBSDiCount = 1 << 16

var errDESFormat = errors.New("bad DES crypt string")

var (
	desIP = [64]byte{58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4,
		62, 54, 46, 38, 30, 22, 14, 6, 64, 56, 48, 40, 32, 24, 16, 8,
		57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3,
		61, 53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7}
	desFP = [64]byte{40, 8, 48, 16, 56, 24, 64, 32, 39, 7, 47, 15, 55, 23, 63, 31,
		38, 6, 46, 14, 54, 22, 62, 30, 37, 5, 45, 13, 53, 21, 61, 29,
		36, 4, 44, 12, 52, 20, 60, 28, 35, 3, 43, 11, 51, 19, 59, 27,
		34, 2, 42, 10, 50, 18, 58, 26, 33, 1, 41, 9, 49, 17, 57, 25}
	desPC1 = [56]byte{57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18,
		10, 2, 59, 51, 43, 35, 27, 19, 11, 3, 60, 52, 44, 36,
		63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22,
		14, 6, 61, 53, 45, 37, 29, 21, 13, 5, 28, 20, 12, 4}
	desShifts = [16]byte{1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1}
	desPC2    = [48]byte{14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10,
		23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2,
		41, 52, 31, 37, 47, 55, 30, 40, 51, 45, 33, 48,
		44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32}
	desE = [48]byte{32, 1, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9,
		8, 9, 10, 11, 12, 13, 12, 13, 14, 15, 16, 17,
		16, 17, 18, 19, 20, 21, 20, 21, 22, 23, 24, 25,
		24, 25, 26, 27, 28, 29, 28, 29, 30, 31, 32, 1}
	desP = [32]byte{16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10,
		2, 8, 24, 14, 32, 27, 3, 9, 19, 13, 30, 6, 22, 11, 4, 25}
	desS = [8][64]byte{
		{14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7,
			0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12, 11, 9, 5, 3, 8,
			4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0,
			15, 12, 8, 2, 4, 9, 1, 7, 5, 11, 3, 14, 10, 0, 6, 13},
		{15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10,
			3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1, 10, 6, 9, 11, 5,
			0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15,
			13, 8, 10, 1, 3, 15, 4, 2, 11, 6, 7, 12, 0, 5, 14, 9},
		{10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8,
			13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5, 14, 12, 11, 15, 1,
			13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7,
			1, 10, 13, 0, 6, 9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12},
		{7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15,
			13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2, 12, 1, 10, 14, 9,
			10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4,
			3, 15, 0, 6, 10, 1, 13, 8, 9, 4, 5, 11, 12, 7, 2, 14},
		{2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9,
			14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15, 10, 3, 9, 8, 6,
			4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14,
			11, 8, 12, 7, 1, 14, 2, 13, 6, 15, 0, 9, 10, 4, 5, 3},
		{12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11,
			10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13, 14, 0, 11, 3, 8,
			9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6,
			4, 3, 2, 12, 9, 5, 15, 10, 11, 14, 1, 7, 6, 0, 8, 13},
		{4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1,
			13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5, 12, 2, 15, 8, 6,
			1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2,
			6, 11, 13, 8, 1, 4, 10, 7, 9, 5, 0, 15, 14, 2, 3, 12},
		{13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7,
			1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6, 11, 0, 14, 9, 2,
			7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8,
			2, 1, 14, 7, 4, 10, 8, 13, 15, 12, 9, 0, 3, 5, 6, 11},
	}
)

// desSchedule expands an 8-byte DES key (parity bits ignored) into the 16
// round keys, one bit per byte.
func desSchedule(key [8]byte) (ks [16][48]byte) {
	var bits [64]byte
	for i := range bits {
		bits[i] = key[i/8] >> (7 - i%8) & 1
	}
	var cd [56]byte
	for i, p := range desPC1 {
		cd[i] = bits[p-1]
	}
	for r := range 16 {
		for range desShifts[r] {
			c0, d0 := cd[0], cd[28]
			copy(cd[0:27], cd[1:28])
			copy(cd[28:55], cd[29:56])
			cd[27], cd[55] = c0, d0
		}
		for i, p := range desPC2 {
			ks[r][i] = cd[p-1]
		}
	}
	return ks
}

// desCrypt encrypts the 64-bit block count times with the salt: bit i of
// the 24-bit salt swaps E-box outputs i and i+24.
func desCrypt(ks *[16][48]byte, salt uint32, block uint64, count int) uint64 {
	var b [64]byte
	for i := range b {
		b[i] = byte(block >> (63 - i) & 1)
	}
	for range count {
		var lr [64]byte
		for i, p := range desIP {
			lr[i] = b[p-1]
		}
		l, r := lr[:32], lr[32:]
		for round := range 16 {
			var e [48]byte
			for i, p := range desE {
				e[i] = r[p-1]
			}
			for i := range 24 {
				if salt>>i&1 == 1 {
					e[i], e[i+24] = e[i+24], e[i]
				}
			}
			for i := range e {
				e[i] ^= ks[round][i]
			}
			var f [32]byte
			for s := range 8 {
				x := e[6*s:]
				row := x[0]<<1 | x[5]
				col := x[1]<<3 | x[2]<<2 | x[3]<<1 | x[4]
				v := desS[s][row*16+col]
				for j := range 4 {
					f[4*s+j] = v >> (3 - j) & 1
				}
			}
			var nr [32]byte
			for i, p := range desP {
				nr[i] = l[i] ^ f[p-1]
			}
			copy(l, r)
			copy(r, nr[:])
		}
		var pre [64]byte
		copy(pre[:32], r)
		copy(pre[32:], l)
		for i, p := range desFP {
			b[i] = pre[p-1]
		}
	}
	var out uint64
	for i := range b {
		out = out<<1 | uint64(b[i])
	}
	return out
}

func cryptIndex(c byte) (uint32, bool) {
	for i := 0; i < len(cryptAlphabet); i++ {
		if cryptAlphabet[i] == c {
			return uint32(i), true
		}
	}
	return 0, false
}

// desEncodeHash writes the 64-bit result as 11 characters, 6 bits each,
// most significant first, padded with two zero bits.
func desEncodeHash(v uint64) string {
	var out [11]byte
	for i := range out {
		shift := 58 - 6*i
		var c uint64
		if shift >= 0 {
			c = v >> shift & 63
		} else {
			c = v << -shift & 63
		}
		out[i] = cryptAlphabet[c]
	}
	return string(out[:])
}

func desKeyBytes(password string) (key [8]byte, rest string) {
	i := 0
	for ; i < 8 && i < len(password); i++ {
		key[i] = password[i] << 1
	}
	return key, password[i:]
}

// desCryptString computes traditional or BSDi crypt for setting, which is
// either the two salt characters or the 9-character "_CCCCSSSS" prefix
// (any hash part after it is ignored).
func desCryptString(password, setting string) (string, error) {
	key, rest := desKeyBytes(password)
	if setting != "" && setting[0] == '_' {
		if len(setting) < 9 {
			return "", errDESFormat
		}
		var count, salt uint32
		for i := range 4 {
			c, ok1 := cryptIndex(setting[1+i])
			s, ok2 := cryptIndex(setting[5+i])
			if !ok1 || !ok2 {
				return "", errDESFormat
			}
			count |= c << (6 * i)
			salt |= s << (6 * i)
		}
		if count == 0 || count > maxBSDiCount {
			return "", errDESFormat
		}
		// Longer keys are folded in: encrypt the key with itself, XOR
		// the next 8 characters.
		for rest != "" {
			c, err := des.NewCipher(key[:])
			if err != nil {
				return "", err
			}
			c.Encrypt(key[:], key[:])
			for i := 0; i < 8 && rest != ""; i++ {
				key[i] ^= rest[0] << 1
				rest = rest[1:]
			}
		}
		ks := desSchedule(key)
		return setting[:9] + desEncodeHash(desCrypt(&ks, salt, 0, int(count))), nil
	}
	if len(setting) < 2 {
		return "", errDESFormat
	}
	s0, ok0 := cryptIndex(setting[0])
	s1, ok1 := cryptIndex(setting[1])
	if !ok0 || !ok1 {
		return "", errDESFormat
	}
	ks := desSchedule(key)
	return setting[:2] + desEncodeHash(desCrypt(&ks, s1<<6|s0, 0, 25)), nil
}

// isDESCrypt reports whether s looks like a traditional or BSDi DES crypt
// string.
func isDESCrypt(s string) bool {
	if len(s) == 13 || (len(s) == 20 && s[0] == '_') {
		for i := 0; i < len(s); i++ {
			if _, ok := cryptIndex(s[i]); !ok && (i != 0 || len(s) != 20) {
				return false
			}
		}
		return true
	}
	return false
}
