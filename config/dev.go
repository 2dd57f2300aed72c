package config

import (
	"fmt"
	"path/filepath"
	"strings"
)

// DevIDs says who runs `cote --dev`: root, or the uid and gid of the
// invoking user.
type DevIDs struct {
	Root     bool
	UID, GID int
}

// Numeric ids the development configuration uses as root. They need no
// entries in /etc/passwd (see NumericID).
const (
	DevInternalID = 50001 // default_internal_user and default_internal_group
	DevLoginID    = 50002 // default_login_user
	DevAuthID     = 50003 // service auth
	DevFirstUID   = 50100 // first_valid_uid; the demo user gets this uid
)

// DevText returns the development configuration for `cote --dev dir`:
// loopback only, high ports, all state under dir, a passwd-file at
// dir/users and a certificate in dir/ssl (the master writes those before it
// parses this text). As root it separates privileges with numeric ids; as
// any other user every role runs under ids.UID and ids.GID, without chroots.
func DevText(dir string, ids DevIDs) string {
	dir = filepath.Clean(dir)
	var b strings.Builder
	kv := func(indent int, key, val string) {
		fmt.Fprintf(&b, "%s%s =%s\n", strings.Repeat("  ", indent), key, valueText(val))
	}
	p := func(elem ...string) string { return filepath.Join(append([]string{dir}, elem...)...) }

	b.WriteString("# Development configuration of `cote --dev`. Not for production.\n")
	kv(0, "protocols", "imap pop3 lmtp sieve")
	kv(0, "listen", "127.0.0.1")
	// LMTP recipients are user@domain; the passwd-file has bare names.
	kv(0, "auth_username_format", "%Ln")
	kv(0, "base_dir", p("run"))
	kv(0, "state_dir", p("state"))
	kv(0, "log_path", "/dev/stderr")
	kv(0, "metrics_listen", "127.0.0.1:10090")
	kv(0, "ssl", "yes")
	fmt.Fprintf(&b, "ssl_cert = <%s\nssl_key = <%s\n", p("ssl", "cert.pem"), p("ssl", "key.pem"))
	kv(0, "mail_location", "maildir:~/Maildir")

	user, group, login, auth := fmt.Sprintf("#%d", DevInternalID), fmt.Sprintf("#%d", DevInternalID),
		fmt.Sprintf("#%d", DevLoginID), fmt.Sprintf("#%d", DevAuthID)
	firstUID := DevFirstUID
	if !ids.Root {
		user, login, auth = fmt.Sprintf("#%d", ids.UID), fmt.Sprintf("#%d", ids.UID), fmt.Sprintf("#%d", ids.UID)
		group = fmt.Sprintf("#%d", ids.GID)
		firstUID = ids.UID
	}
	kv(0, "default_internal_user", user)
	kv(0, "default_internal_group", group)
	kv(0, "default_login_user", login)
	kv(0, "first_valid_uid", fmt.Sprint(firstUID))

	args := "scheme=CRYPT username_format=%u " + p("users")
	for _, db := range []string{"passdb", "userdb"} {
		b.WriteString(db + " {\n")
		kv(1, "driver", "passwd-file")
		kv(1, "args", args)
		b.WriteString("}\n")
	}

	b.WriteString("service auth {\n")
	kv(1, "user", auth)
	if !ids.Root {
		kv(1, "group", group)
	}
	b.WriteString("}\n")
	logins := []struct {
		service string
		ports   [][2]string
	}{
		{"imap-login", [][2]string{{"imap", "10143"}, {"imaps", "10993"}}},
		{"pop3-login", [][2]string{{"pop3", "10110"}, {"pop3s", "10995"}}},
		{"managesieve-login", [][2]string{{"sieve", "14190"}}},
	}
	for _, l := range logins {
		b.WriteString("service " + l.service + " {\n")
		if !ids.Root {
			// Only root can chroot.
			kv(1, "chroot", "")
			kv(1, "group", group)
		}
		for _, port := range l.ports {
			b.WriteString("  inet_listener " + port[0] + " {\n")
			kv(2, "port", port[1])
			b.WriteString("  }\n")
		}
		b.WriteString("}\n")
	}
	b.WriteString("service lmtp {\n  inet_listener lmtp {\n")
	kv(2, "address", "127.0.0.1")
	kv(2, "port", "10024")
	b.WriteString("  }\n}\n")
	return b.String()
}
