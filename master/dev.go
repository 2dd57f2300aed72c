package master

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"cote/config"
)

// Numeric ids of the development default when it runs as root: a range of
// its own, so that it needs no entry in the system's user database.
const (
	devInternalID = 50001
	devLoginID    = 50002
	devAuthID     = 50003
	devUserID     = 50100
)

// SetupDev prepares DIR for `cote --dev DIR`: the state layout, a
// self-signed certificate and a passwd-file with the user demo (password
// demo). Existing files are kept. It returns the ids DevText needs.
func SetupDev(dir string) (config.DevIDs, error) {
	ids := config.DevIDs{Root: os.Getuid() == 0, UID: os.Getuid(), GID: os.Getgid()}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return ids, err
	}
	for _, d := range []string{dir, filepath.Join(dir, "ssl"), filepath.Join(dir, "home"), filepath.Join(dir, "run"), filepath.Join(dir, "state")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return ids, err
		}
		// Unprivileged children must be able to pass through.
		os.Chmod(d, 0o755)
	}
	if err := devCert(filepath.Join(dir, "ssl")); err != nil {
		return ids, err
	}
	uid, gid, authGID := ids.UID, ids.GID, ids.GID
	if ids.Root {
		uid, gid, authGID = devUserID, devUserID, devAuthID
	}
	home := filepath.Join(dir, "home", "demo")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return ids, err
	}
	if ids.Root {
		if err := os.Chown(home, uid, gid); err != nil {
			return ids, err
		}
	}
	users := filepath.Join(dir, "users")
	if _, err := os.Stat(users); errors.Is(err, os.ErrNotExist) {
		line := fmt.Sprintf("demo:{PLAIN}demo:%d:%d::%s::\n", uid, gid, home)
		if err := os.WriteFile(users, []byte(line), 0o640); err != nil {
			return ids, err
		}
	}
	if ids.Root {
		// The auth process (its own uid and group) reads the passwd-file.
		if err := os.Chown(users, 0, authGID); err != nil {
			return ids, err
		}
	}
	return ids, nil
}

func devCert(dir string) error {
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if _, err := os.Stat(certPath); err == nil {
		return nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "localhost", Organization: []string{"cote development"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}
