package config

import (
	"crypto/tls"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

var (
	knownProtocols  = []string{"imap", "pop3", "lmtp", "sieve", "none"}
	knownDrivers    = []string{"passwd-file", "static", "pam", "ldap", "sql", "passwd", "shadow", "checkpassword"}
	knownMechanisms = []string{"plain", "login", "cram-md5", "digest-md5", "scram-sha-1", "scram-sha-256",
		"scram-sha-1-plus", "scram-sha-256-plus", "external", "oauthbearer", "xoauth2", "anonymous", "apop"}
	passdbOnly = []string{"deny", "pass", "master", "mechanisms", "username_filter"}
)

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// validator collects errors, each at the position of the setting it is
// about when that is known.
type validator struct {
	s    *Settings
	errs ErrorList
}

func (v *validator) errorf(path string, format string, args ...any) {
	pos := v.s.pos[path]
	if pos.File == "" {
		// Fall back to the enclosing block's position.
		for p := path; pos.File == "" && strings.Contains(p, "/"); {
			p = p[:strings.LastIndex(p, "/")]
			pos = v.s.pos[p]
		}
	}
	v.errs = append(v.errs, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// Validate checks the settings for values that parse but cannot work, and
// returns an ErrorList of every problem (nil when there is none). Errors
// carry the file and line of the setting when it was set in a file.
func (s *Settings) Validate() error {
	v := &validator{s: s}
	v.choices(rootOf(s), "", "")
	v.ssl()
	if s.LastValidUID != 0 && s.FirstValidUID > s.LastValidUID {
		v.errorf("last_valid_uid", "first_valid_uid (%d) is greater than last_valid_uid (%d)", s.FirstValidUID, s.LastValidUID)
	}
	if s.LastValidGID != 0 && s.FirstValidGID > s.LastValidGID {
		v.errorf("last_valid_gid", "first_valid_gid (%d) is greater than last_valid_gid (%d)", s.FirstValidGID, s.LastValidGID)
	}
	for _, name := range []string{"first_valid_uid", "last_valid_uid", "first_valid_gid", "last_valid_gid",
		"mail_max_userip_connections", "mail_max_keyword_length", "lmtp_user_concurrency_limit",
		"managesieve_max_compile_errors", "auth_worker_max_count", "default_process_limit", "default_client_limit"} {
		f := fieldsOf(rootOf(s).Type())[name]
		if rootOf(s).FieldByIndex(f.index).Int() < 0 {
			v.errorf(name, "%s must not be negative", name)
		}
	}
	for _, p := range s.Protocols {
		if !contains(knownProtocols, p) {
			v.errorf("protocols", "unknown protocol %q in protocols (want imap, pop3, lmtp, sieve or none)", p)
		}
	}
	for _, m := range s.AuthMechanisms {
		if !contains(knownMechanisms, strings.ToLower(m)) {
			v.errorf("auth_mechanisms", "unknown authentication mechanism %q", m)
		}
	}
	for _, name := range []string{"default_internal_user", "default_internal_group", "default_login_user", "mail_uid", "mail_gid"} {
		f := fieldsOf(rootOf(s).Type())[name]
		v.id(name, name, rootOf(s).FieldByIndex(f.index).String())
	}
	v.dbs("passdb", s.Passdbs)
	v.dbs("userdb", s.Userdbs)
	v.services()
	v.namespaces()
	v.sieve()
	return v.errs.err()
}

// choices re-checks enumerated values (the parser checks those it reads;
// this catches Settings built in code).
func (v *validator) choices(sv reflect.Value, kind, path string) {
	fs := fieldsOf(sv.Type())
	for _, r := range table(kind) {
		if r.choices == "" {
			continue
		}
		val := sv.FieldByIndex(fs[r.key].index).String()
		if choices := strings.Split(r.choices, "|"); !contains(choices, val) {
			v.errorf(path+r.key, "%s: invalid value %q (want %s)", r.key, val, orList(choices))
		}
	}
}

func (v *validator) ssl() {
	s := v.s
	if s.SSL == "no" {
		return
	}
	switch {
	case s.SSLCert == "":
		v.errorf("ssl", "ssl = %s needs ssl_cert (or set ssl = no)", s.SSL)
	case s.SSLKey == "":
		v.errorf("ssl", "ssl = %s needs ssl_key (or set ssl = no)", s.SSL)
	case s.SSLKeyPassword != "":
		// Encrypted keys are checked when they are decrypted.
	default:
		if _, err := tls.X509KeyPair([]byte(s.SSLCert), []byte(s.SSLKey)); err != nil {
			v.errorf("ssl_key", "ssl_cert and ssl_key: %v", err)
		}
	}
}

// id checks a user or group value: `#NUMBER` must be a valid number.
func (v *validator) id(path, name, val string) {
	if strings.HasPrefix(val, "#") {
		if _, ok := NumericID(val); !ok {
			v.errorf(path, "%s: invalid numeric id %q (want #NUMBER)", name, val)
		}
	}
}

// serviceID is id for a service's user or group; values that came from a
// default_* setting were checked there.
func (v *validator) serviceID(svc, path, name, val string) {
	s := v.s
	if val == s.DefaultInternalUser || val == s.DefaultInternalGroup || val == s.DefaultLoginUser {
		return
	}
	v.id(path, "service "+svc+": "+name, val)
}

func (v *validator) dbs(kind string, dbs []DB) {
	if len(dbs) == 0 {
		v.errorf("", "no %s configured: add a %s { driver = ... } block", kind, kind)
	}
	def := newElem(reflect.TypeFor[DB](), kind, "")
	for i, db := range dbs {
		path := kind + "/" + elemKey(db.Name, i) + "/"
		dv := reflect.ValueOf(db)
		v.choices(dv, kind, path)
		switch {
		case db.Driver == "":
			v.errorf(path+"driver", "%s block without driver", kind)
		case kind == "userdb" && db.Driver == "prefetch":
		case kind == "passdb" && db.Driver == "oauth2":
		case !contains(knownDrivers, db.Driver):
			v.errorf(path+"driver", "%s: unknown driver %q", kind, db.Driver)
		}
		if kind == "userdb" {
			fs := fieldsOf(dv.Type())
			for _, k := range passdbOnly {
				f := fs[k]
				if formatField(dv.FieldByIndex(f.index), f) != formatField(def.FieldByIndex(f.index), f) {
					v.errorf(path+k, "%s is a passdb setting, not valid in a userdb", k)
				}
			}
		}
		for _, m := range db.Mechanisms {
			if !contains(knownMechanisms, strings.ToLower(m)) {
				v.errorf(path+"mechanisms", "unknown authentication mechanism %q", m)
			}
		}
	}
}

func (v *validator) services() {
	seen := map[string]bool{}
	for _, svc := range v.s.Services {
		path := "service/" + svc.Name + "/"
		if seen[svc.Name] {
			v.errorf(path, "service %s defined twice", svc.Name)
		}
		seen[svc.Name] = true
		v.choices(reflect.ValueOf(svc), "service", path)
		v.serviceID(svc.Name, path+"user", "user", svc.User)
		v.serviceID(svc.Name, path+"group", "group", svc.Group)
		v.serviceID(svc.Name, path+"privileged_group", "privileged_group", svc.PrivilegedGroup)
		for _, n := range []struct {
			key string
			val int
		}{{"process_limit", svc.ProcessLimit}, {"client_limit", svc.ClientLimit}, {"process_min_avail", svc.ProcessMinAvail}, {"service_count", svc.ServiceCount}, {"max_procs", svc.MaxProcs}} {
			if n.val < 0 {
				v.errorf(path+n.key, "service %s: %s must not be negative", svc.Name, n.key)
			}
		}
		if svc.ProcessLimit > 0 && svc.ProcessMinAvail > svc.ProcessLimit {
			v.errorf(path+"process_min_avail", "service %s: process_min_avail (%d) is greater than process_limit (%d)", svc.Name, svc.ProcessMinAvail, svc.ProcessLimit)
		}
		if svc.Protocol != "" && !contains(knownProtocols, svc.Protocol) {
			v.errorf(path+"protocol", "service %s: unknown protocol %q", svc.Name, svc.Protocol)
		}
		names := map[string]bool{}
		for _, l := range svc.InetListeners {
			lp := path + "inet_listener/" + l.Name + "/"
			if names["inet "+l.Name] {
				v.errorf(lp, "service %s: inet_listener %s defined twice", svc.Name, l.Name)
			}
			names["inet "+l.Name] = true
			if l.Port < 0 || l.Port > 65535 {
				v.errorf(lp+"port", "service %s: inet_listener %s: port %d out of range 0-65535", svc.Name, l.Name, l.Port)
			}
			if l.Port != 0 && len(l.Addresses()) == 0 {
				v.errorf(lp+"address", "service %s: inet_listener %s: no address to listen on", svc.Name, l.Name)
			}
		}
		for _, l := range svc.UnixListeners {
			lp := path + "unix_listener/" + l.Path + "/"
			if names["unix "+l.Path] {
				v.errorf(lp, "service %s: unix_listener %s defined twice", svc.Name, l.Path)
			}
			names["unix "+l.Path] = true
			if l.Mode > 0o777 {
				v.errorf(lp+"mode", "service %s: unix_listener %s: mode %s is more than 0777", svc.Name, l.Path, "0"+strconv.FormatUint(uint64(l.Mode), 8))
			}
			v.serviceID(svc.Name, lp+"user", "unix_listener "+l.Path+": user", l.User)
			v.serviceID(svc.Name, lp+"group", "unix_listener "+l.Path+": group", l.Group)
		}
	}
	for _, name := range []string{"auth", "worker"} {
		if !seen[name] {
			v.errorf("", "service %s is missing", name)
		}
	}
}

func (v *validator) namespaces() {
	inboxes := 0
	for i, ns := range v.s.Namespaces {
		path := "namespace/" + elemKey(ns.Name, i) + "/"
		v.choices(reflect.ValueOf(ns), "namespace", path)
		if ns.Inbox && !ns.Disabled {
			inboxes++
			if inboxes == 2 {
				v.errorf(path+"inbox", "more than one namespace has inbox = yes")
			}
		}
		for _, mb := range ns.Mailboxes {
			v.choices(reflect.ValueOf(mb), "mailbox", path+"mailbox/"+mb.Name+"/")
		}
	}
}
