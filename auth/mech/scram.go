package mech

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"hash"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"cote/auth/scheme"
)

type scramHash int

const (
	scramSHA1 scramHash = iota
	scramSHA256
)

func (h scramHash) new() func() hash.Hash {
	if h == scramSHA1 {
		return sha1.New
	}
	return sha256.New
}

func (h scramHash) scheme() string {
	if h == scramSHA1 {
		return "SCRAM-SHA-1"
	}
	return "SCRAM-SHA-256"
}

// scram is SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802, RFC 7677), and with
// plus their -PLUS variants that bind the exchange to the client's TLS
// channel.
type scram struct {
	v     Verifier
	h     scramHash
	plus  bool
	rand  io.Reader
	state int // 0: want client-first, 1: want client-final

	first       SCRAMClientFirst
	cbData      []byte
	serverFirst string
	nonce       string // c-nonce s-nonce
	snonce      string // s-nonce; made from rand when empty (tests set it)
	keys        scheme.SCRAMKeys
}

func newSCRAM(v Verifier, h scramHash, plus bool) *scram {
	return &scram{v: v, h: h, plus: plus, rand: rand.Reader}
}

// SCRAMClientFirst is a parsed client-first-message (RFC 5802 section 7).
type SCRAMClientFirst struct {
	// CBFlag is 'n' (no binding), 'y' (client could, thinks the server
	// cannot) or 'p' (binding of type CBName).
	CBFlag    byte
	CBName    string
	Authzid   string
	User      string
	Nonce     string
	GS2Header string // up to and including the second comma
	Bare      string // client-first-message-bare
}

var errSCRAM = &Failure{Reason: "Invalid SCRAM message"}

// decodeSASLName undoes "=2C" and "=3D" (RFC 5802 section 5.1); any other
// "=" or a raw "," is an error.
func decodeSASLName(s string) (string, bool) {
	if s == "" || !utf8.ValidString(s) || strings.ContainsAny(s, ",\x00") {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", false
		}
		i += 2
	}
	return b.String(), true
}

func validNonce(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == ',' {
			return false
		}
	}
	return true
}

// parseGS2Header reads "cbind-flag,[a=authzid]," (RFC 5802 section 7),
// shared with OAUTHBEARER (RFC 7628 section 3.1). It returns the rest.
func parseGS2Header(msg string) (flag byte, cbName, authzid, rest string, ok bool) {
	f, rest, ok1 := strings.Cut(msg, ",")
	a, rest, ok2 := strings.Cut(rest, ",")
	if !ok1 || !ok2 {
		return 0, "", "", "", false
	}
	switch {
	case f == "n" || f == "y":
		flag = f[0]
	case strings.HasPrefix(f, "p=") && len(f) > 2:
		flag, cbName = 'p', f[2:]
		for i := 0; i < len(cbName); i++ {
			c := cbName[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
				return 0, "", "", "", false
			}
		}
	default:
		return 0, "", "", "", false
	}
	if a != "" {
		v, ok := strings.CutPrefix(a, "a=")
		if !ok {
			return 0, "", "", "", false
		}
		if authzid, ok = decodeSASLName(v); !ok {
			return 0, "", "", "", false
		}
	}
	return flag, cbName, authzid, rest, true
}

// ParseSCRAMClientFirst parses a client-first-message.
func ParseSCRAMClientFirst(msg []byte) (SCRAMClientFirst, error) {
	s := string(msg)
	flag, cbName, authzid, bare, ok := parseGS2Header(s)
	if !ok {
		return SCRAMClientFirst{}, errSCRAM
	}
	m := SCRAMClientFirst{CBFlag: flag, CBName: cbName, Authzid: authzid, Bare: bare, GS2Header: s[:len(s)-len(bare)]}
	attrs := strings.Split(bare, ",")
	if len(attrs) < 2 || strings.HasPrefix(attrs[0], "m=") {
		// m= is a mandatory extension no server understands yet.
		return SCRAMClientFirst{}, errSCRAM
	}
	u, ok1 := strings.CutPrefix(attrs[0], "n=")
	r, ok2 := strings.CutPrefix(attrs[1], "r=")
	if !ok1 || !ok2 || !validNonce(r) {
		return SCRAMClientFirst{}, errSCRAM
	}
	if m.User, ok = decodeSASLName(u); !ok {
		return SCRAMClientFirst{}, errSCRAM
	}
	m.Nonce = r
	return m, nil
}

// SCRAMClientFinal is a parsed client-final-message.
type SCRAMClientFinal struct {
	CBind        []byte // decoded c=
	Nonce        string
	WithoutProof string
	Proof        []byte
}

// ParseSCRAMClientFinal parses a client-final-message (RFC 5802
// section 7): c=..,r=..[,extensions],p=...
func ParseSCRAMClientFinal(msg []byte) (SCRAMClientFinal, error) {
	s := string(msg)
	i := strings.LastIndex(s, ",p=")
	if i < 0 {
		return SCRAMClientFinal{}, errSCRAM
	}
	f := SCRAMClientFinal{WithoutProof: s[:i]}
	var err error
	if f.Proof, err = base64.StdEncoding.DecodeString(s[i+3:]); err != nil || len(f.Proof) == 0 {
		return SCRAMClientFinal{}, errSCRAM
	}
	attrs := strings.Split(f.WithoutProof, ",")
	if len(attrs) < 2 {
		return SCRAMClientFinal{}, errSCRAM
	}
	c, ok1 := strings.CutPrefix(attrs[0], "c=")
	r, ok2 := strings.CutPrefix(attrs[1], "r=")
	if !ok1 || !ok2 || !validNonce(r) {
		return SCRAMClientFinal{}, errSCRAM
	}
	if f.CBind, err = base64.StdEncoding.DecodeString(c); err != nil {
		return SCRAMClientFinal{}, errSCRAM
	}
	f.Nonce = r
	return f, nil
}

func (s *scram) hmac(key []byte, msg string) []byte {
	m := hmac.New(s.h.new(), key)
	io.WriteString(m, msg)
	return m.Sum(nil)
}

// Step implements RFC 5802 section 5.
func (s *scram) Step(ctx context.Context, resp []byte) ([]byte, bool, error) {
	switch s.state {
	case 0:
		if resp == nil {
			return []byte{}, false, nil
		}
		return s.clientFirst(ctx, resp)
	default:
		return s.clientFinal(resp)
	}
}

func (s *scram) clientFirst(ctx context.Context, resp []byte) ([]byte, bool, error) {
	m, err := ParseSCRAMClientFirst(resp)
	if err != nil {
		return nil, true, err
	}
	req := s.v.Request()
	switch {
	case s.plus && m.CBFlag != 'p':
		return nil, true, &Failure{Reason: "Channel binding is required"}
	case !s.plus && m.CBFlag == 'p':
		return nil, true, &Failure{Reason: "Channel binding is not offered by this mechanism"}
	case m.CBFlag == 'y' && req.PlusAdvertised:
		// RFC 5802 section 6: the client could bind and we offered
		// binding: someone removed the -PLUS mechanism on the way.
		return nil, true, &Failure{Reason: "Channel binding downgrade detected"}
	case m.CBFlag == 'p':
		if m.CBName != CBTLSExporter && m.CBName != CBTLSServerEndPoint {
			return nil, true, &Failure{Reason: "Unsupported channel binding type"}
		}
		data := req.ChannelBinding[m.CBName]
		if len(data) == 0 {
			return nil, true, &Failure{Reason: "Channel binding data not available"}
		}
		s.cbData = data
	}
	cred, err := s.v.Credentials(ctx, Identity{Authzid: m.Authzid, Authcid: m.User}, s.h.scheme())
	if err != nil {
		return nil, true, err
	}
	size := s.h.new()().Size()
	if s.keys, err = scheme.ParseSCRAM(cred, size); err != nil {
		return nil, true, err
	}
	if s.snonce == "" {
		var n [24]byte
		if _, err := io.ReadFull(s.rand, n[:]); err != nil {
			return nil, true, err
		}
		s.snonce = base64.RawStdEncoding.EncodeToString(n[:])
	}
	s.first = m
	s.nonce = m.Nonce + s.snonce
	s.serverFirst = "r=" + s.nonce + ",s=" + base64.StdEncoding.EncodeToString(s.keys.Salt) + ",i=" + strconv.Itoa(s.keys.Iter)
	s.state = 1
	return []byte(s.serverFirst), false, nil
}

func (s *scram) clientFinal(resp []byte) ([]byte, bool, error) {
	f, err := ParseSCRAMClientFinal(resp)
	if err != nil {
		return nil, true, err
	}
	if f.Nonce != s.nonce {
		return nil, true, &Failure{Reason: "Wrong nonce"}
	}
	cbind := append([]byte(s.first.GS2Header), s.cbData...)
	if subtle.ConstantTimeCompare(cbind, f.CBind) != 1 {
		// A different TLS channel, or a gs2 header that changed.
		return nil, true, &Failure{Reason: "Channel binding mismatch"}
	}
	authMsg := s.first.Bare + "," + s.serverFirst + "," + f.WithoutProof
	sig := s.hmac(s.keys.StoredKey, authMsg)
	if len(f.Proof) != len(sig) {
		return nil, true, &Failure{}
	}
	clientKey := make([]byte, len(sig))
	for i := range sig {
		clientKey[i] = f.Proof[i] ^ sig[i]
	}
	h := s.h.new()()
	h.Write(clientKey)
	if subtle.ConstantTimeCompare(h.Sum(nil), s.keys.StoredKey) != 1 {
		return nil, true, &Failure{}
	}
	return []byte("v=" + base64.StdEncoding.EncodeToString(s.hmac(s.keys.ServerKey, authMsg))), true, nil
}
