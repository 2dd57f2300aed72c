package config

import (
	"reflect"
	"strings"
	"time"
)

// Defaults returns the built-in configuration: what an empty file gives.
// It does not validate (it has no passdb, for one).
func Defaults() *Settings {
	s := rawDefaults()
	finalize(s)
	return s
}

// rawDefaults returns the defaults before finalize: service users are still
// $variables and listener addresses still empty.
func rawDefaults() *Settings {
	s := &Settings{}
	root := rootOf(s)
	fs := fieldsOf(root.Type())
	for _, r := range globalTable() {
		f, ok := fs[r.key]
		if !ok {
			panic("config: table row " + r.key + " has no field")
		}
		if err := setField(root.FieldByIndex(f.index), f, r.def); err != nil {
			panic("config: bad default for " + r.key + ": " + err.Error())
		}
	}
	s.Services = defaultServices()
	normalize(root)
	return s
}

func newService(name string) Service {
	return newElem(reflect.TypeFor[Service](), "service", name).Interface().(Service)
}

func inet(name string, port int, ssl bool) InetListener {
	l := newElem(reflect.TypeFor[InetListener](), "inet_listener", name).Interface().(InetListener)
	l.Port, l.SSL = port, ssl
	return l
}

func unixL(path string, mode uint32) UnixListener {
	l := newElem(reflect.TypeFor[UnixListener](), "unix_listener", path).Interface().(UnixListener)
	l.Mode = mode
	return l
}

// loginService is the shared shape of imap-login, pop3-login and
// managesieve-login. They run in Dovecot's "high-performance mode":
// service_count 0 and a high client_limit, so that one process serves many
// connections. Dovecot's default (one process per connection) would cost a
// Go process (several MB) per connection.
func loginService(name, proto string, l ...InetListener) Service {
	s := newService(name)
	s.Type = "login"
	s.Protocol = proto
	s.User = "$default_login_user"
	s.Chroot = "empty"
	s.ServiceCount = 0
	s.ProcessMinAvail = 1
	s.ClientLimit = 1000
	s.InetListeners = l
	return s
}

// defaultServices are the services that exist even with an empty
// configuration. `service NAME { }` blocks change them or add new ones.
func defaultServices() []Service {
	auth := newService("auth")
	auth.User = "coteauth"
	auth.ProcessLimit = 1
	auth.UnixListeners = []UnixListener{
		unixL("auth-client", 0o600),
		unixL("auth-login", 0o600),
		unixL("auth-master", 0o600),
		unixL("auth-userdb", 0o666),
	}

	worker := newService("worker")
	worker.Type = "worker"
	worker.ProcessLimit = 1024
	worker.ClientLimit = 0
	worker.VszLimit = 256 << 20
	worker.MaxProcs = 1
	worker.IdleKill = 10 * time.Second

	lmtp := newService("lmtp")
	lmtp.Protocol = "lmtp"
	lmtp.User = "$default_internal_user"
	lmtp.Group = "$default_internal_group"
	lmtp.UnixListeners = []UnixListener{unixL("lmtp", 0o666)}
	// One thread of Go code, as the worker: the lmtp process reads the
	// MTA's connections and hands each copy to a worker, and a second
	// thread added scheduler wake-ups, not throughput (25% more messages
	// per second with 1 on 2 CPUs, docs/benchmarks.md).
	lmtp.MaxProcs = 1

	// One process holds the hibernated IMAP sessions: two descriptors
	// each, no file access (docs/hibernate.md). When the open-file limit
	// holds fewer than client_limit, another is started.
	hibernate := newService("imap-hibernate")
	hibernate.Protocol = "imap"
	hibernate.User = "$default_internal_user"
	hibernate.Chroot = "empty"
	hibernate.ProcessLimit = 4
	hibernate.ClientLimit = 10000

	return []Service{
		auth,
		loginService("imap-login", "imap", inet("imap", 143, false), inet("imaps", 993, true)),
		loginService("pop3-login", "pop3", inet("pop3", 110, false), inet("pop3s", 995, true)),
		loginService("managesieve-login", "sieve", inet("sieve", 4190, false)),
		worker,
		lmtp,
		hibernate,
	}
}

// finalize resolves what depends on the final global values: service and
// listener users and groups of the form $name, and empty listener
// addresses (which become `listen`). It also makes every nil slice and map
// empty, so that Settings compare equal after a JSON round trip.
func finalize(s *Settings) { finalizeFrom(s, s) }

// finalizeFrom finalizes s with the global values of g.
func finalizeFrom(s, g *Settings) {
	root := rootOf(g)
	resolve := func(v string) string {
		if !isVarRef(v) {
			return v
		}
		f, ok := fieldsOf(root.Type())[v[1:]]
		if !ok || f.section {
			return v
		}
		return formatField(root.FieldByIndex(f.index), f)
	}
	listen := strings.Join(g.Listen, ", ")
	for i := range s.Services {
		svc := &s.Services[i]
		svc.User = resolve(svc.User)
		svc.Group = resolve(svc.Group)
		svc.PrivilegedGroup = resolve(svc.PrivilegedGroup)
		for j := range svc.ExtraGroups {
			svc.ExtraGroups[j] = resolve(svc.ExtraGroups[j])
		}
		for j := range svc.InetListeners {
			if svc.InetListeners[j].Address == "" {
				svc.InetListeners[j].Address = listen
			}
		}
		for j := range svc.UnixListeners {
			svc.UnixListeners[j].User = resolve(svc.UnixListeners[j].User)
			svc.UnixListeners[j].Group = resolve(svc.UnixListeners[j].Group)
		}
	}
	normalize(rootOf(s))
}

// normalize replaces nil slices and maps in v (recursively) with empty ones.
func normalize(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				normalize(v.Field(i))
			}
		}
	case reflect.Slice:
		if v.IsNil() {
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		}
		for i := 0; i < v.Len(); i++ {
			normalize(v.Index(i))
		}
	case reflect.Map:
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
	}
}
