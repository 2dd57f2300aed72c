package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"cote/auth"
	"cote/child"
	"cote/config"
	imaphibernate "cote/imap-hibernate"
	imaplogin "cote/imap-login"
	"cote/lmtp"
	"cote/login"
	managesievelogin "cote/managesieve-login"
	pop3login "cote/pop3-login"
	"cote/proto"
	"cote/sieve"
	"cote/worker"
)

// roles are the hidden subcommands the master executes.
var roles = map[string]func(*child.Process) error{
	proto.RoleAuth:       runAuth,
	proto.RoleIMAPLogin:  runIMAPLogin,
	proto.RolePOP3Login:  runPOP3Login,
	proto.RoleLMTP:       runLMTP,
	proto.RoleSieveLogin: runSieveLogin,
	proto.RoleWorker:     worker.RunRole,
	proto.RoleHibernate:  runHibernate,
}

// waitControl reads control messages until Shutdown, the master's death or
// a closed channel. Roles without other control traffic use it.
func waitControl(p *child.Process) {
	msgs := make(chan proto.Message)
	go func() {
		defer close(msgs)
		for {
			m, files, err := p.Ctl.Recv()
			for _, f := range files {
				f.Close()
			}
			if err != nil {
				return
			}
			msgs <- m
		}
	}()
	for {
		select {
		case <-p.Done:
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			if _, ok := m.(*proto.Shutdown); ok {
				return
			}
		}
	}
}

func dbConfigs(dbs []config.DB) []auth.DBConfig {
	out := make([]auth.DBConfig, len(dbs))
	for i, d := range dbs {
		out[i] = auth.DBConfig{
			Driver: d.Driver, Args: d.Args, Skip: d.Skip,
			ResultSuccess: d.ResultSuccess, ResultFailure: d.ResultFailure, ResultInternalfail: d.ResultInternalfail,
			DefaultFields: d.DefaultFields, OverrideFields: d.OverrideFields,
			Master: d.Master, Pass: d.Pass,
		}
		if d.Pass && d.ResultSuccess == "return-ok" {
			// pass = yes is Dovecot's old spelling of result_success = continue.
			out[i].ResultSuccess = "continue"
		}
	}
	return out
}

func runAuth(p *child.Process) error {
	c := p.Config
	srv, err := auth.New(auth.Options{
		Passdbs:        dbConfigs(c.Passdbs),
		Userdbs:        dbConfigs(c.Userdbs),
		Mechanisms:     c.AuthMechanisms,
		FailureDelay:   c.AuthFailureDelay,
		UsernameFormat: c.AuthUsernameFormat,
		UsernameChars:  c.AuthUsernameChars,
		Log:            p.Log,

		MasterUserSeparator: c.AuthMasterUserSeparator,
		DefaultRealm:        c.AuthDefaultRealm,
		Realms:              c.AuthRealms,
		AnonymousUsername:   c.AuthAnonymousUsername,
		CacheSize:           int64(c.AuthCacheSize),
		CacheTTL:            c.AuthCacheTTL,
		CacheNegativeTTL:    c.AuthCacheNegativeTTL,
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	for _, l := range p.Listeners {
		l := l
		kind := l.Name
		if i := strings.LastIndexByte(kind, '-'); i >= 0 {
			kind = kind[i+1:]
		}
		go func() {
			var err error
			switch kind {
			case "login":
				err = srv.ServeClient(l.L, true)
			case "master":
				err = srv.ServeMaster(l.L, false)
			case "userdb":
				err = srv.ServeMaster(l.L, true)
			default:
				err = srv.ServeClient(l.L, false)
			}
			if err != nil {
				p.Log.Debug("listener stopped", "listener", l.Name, "err", err)
			}
		}()
	}
	waitControl(p)
	for _, l := range p.Listeners {
		l.L.Close()
	}
	return nil
}

func tlsConfig(c *config.Settings) (*tls.Config, error) {
	if c.SSL == "no" || c.SSLCert == "" {
		return nil, nil
	}
	cert, err := tls.X509KeyPair([]byte(c.SSLCert), []byte(c.SSLKey))
	if err != nil {
		return nil, fmt.Errorf("ssl_cert/ssl_key: %w", err)
	}
	min := uint16(tls.VersionTLS12)
	switch c.SSLMinProtocol {
	case "TLSv1.3":
		min = tls.VersionTLS13
	case "TLSv1.1":
		min = tls.VersionTLS11
	case "TLSv1", "TLSv1.0":
		min = tls.VersionTLS10
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: min}
	if c.SSLVerifyClientCert {
		// As Dovecot: ask for a certificate, verify one that is given
		// against ssl_ca, and let clients without one in (EXTERNAL
		// then fails for them).
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(c.SSLCA)) {
			return nil, errors.New("ssl_verify_client_cert = yes needs ssl_ca with PEM CA certificates")
		}
		tc.ClientAuth, tc.ClientCAs = tls.VerifyClientCertIfGiven, pool
	}
	return tc, nil
}

func trustedNets(c *config.Settings) []netip.Prefix {
	var out []netip.Prefix
	for _, n := range c.LoginTrustedNetworks {
		if pfx, err := netip.ParsePrefix(n); err == nil {
			out = append(out, pfx)
		} else if a, err := netip.ParseAddr(n); err == nil {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return out
}

func runIMAPLogin(p *child.Process) error {
	return runLogin(p, "imap-login", imaplogin.New(imaplogin.Options{Greeting: p.Config.LoginGreeting}))
}

func runPOP3Login(p *child.Process) error {
	return runLogin(p, "pop3-login", pop3login.New(pop3login.Options{Greeting: p.Config.LoginGreeting}))
}

func runSieveLogin(p *child.Process) error {
	c := p.Config
	// The capabilities the worker announces after login, from the same
	// settings (validated by the master).
	ss, _ := config.ParseSieve(c.Plugin)
	exts := sieve.DefaultExtensions()
	if ss.Extensions != "" {
		exts, _ = sieve.ParseExtensions(exts, ss.Extensions)
	}
	return runLogin(p, "managesieve-login", managesievelogin.New(managesievelogin.Options{
		Greeting:       c.LoginGreeting,
		Implementation: c.ManagesieveImplementationString,
		Sieve:          cmp.Or(c.ManagesieveSieveCapability, exts.Capability()),
		Notify:         c.ManagesieveNotifyCapability,
		MaxRedirects:   cmp.Or(ss.MaxRedirects, 4), // 4: the interpreter's default redirect limit
	}))
}

// runLogin runs a login process: the shared login server with the
// protocol's pre-auth part.
func runLogin(p *child.Process, service string, protocol login.Protocol) error {
	c := p.Config
	tc, err := tlsConfig(c)
	if err != nil {
		return err
	}
	ls := make([]login.Listener, len(p.Listeners))
	for i, l := range p.Listeners {
		ls[i] = login.Listener{Name: l.Name, L: l.L, ImplicitTLS: l.SSL}
	}
	clientLimit := 1000
	if svc := c.Service(service); svc != nil && svc.ClientLimit > 0 {
		clientLimit = svc.ClientLimit
	}
	srv := &login.Server{
		Listeners:            ls,
		TLS:                  tc,
		Ctl:                  p.Ctl,
		Log:                  p.Log,
		DisablePlaintextAuth: c.DisablePlaintextAuth,
		TrustedNetworks:      trustedNets(c),
		ClientLimit:          clientLimit,
		Mechanisms:           c.AuthMechanisms,
		Protocol:             protocol,
		Metrics:              p.Metrics,
		LogFormat:            c.LoginLogFormat,
		LogFormatElements:    c.LoginLogFormatElements,
	}
	ctx, cancel := p.Context()
	defer cancel()
	if err := srv.Serve(ctx); err != nil && !errors.Is(err, login.ErrServerClosed) {
		return err
	}
	return nil
}

// runHibernate runs imap-hibernate, which holds IMAP sessions idle in
// IDLE for their workers.
func runHibernate(p *child.Process) error {
	c := p.Config
	limit := 0
	if svc := c.Service("imap-hibernate"); svc != nil {
		limit = c.Effective(*svc).ClientLimit
	}
	return imaphibernate.Run(imaphibernate.Options{Ctl: p.Ctl, Log: p.Log, IdleNotify: c.ImapIdleNotifyInterval,
		MaxSessions: limit, Done: p.Done, Metrics: p.Metrics})
}

// runLMTP runs the LMTP listener: recipients are looked up in userdb
// through auth, and each copy goes to the recipient's worker through the
// master.
func runLMTP(p *child.Process) error {
	c := p.Config.ForProtocol("lmtp")
	hostname := c.Hostname
	if hostname == "" {
		hostname, _ = os.Hostname()
	}
	clientLimit := 1000
	if svc := c.Service("lmtp"); svc != nil && svc.ClientLimit > 0 {
		clientLimit = svc.ClientLimit
	}
	ls := make([]lmtp.Listener, len(p.Listeners))
	for i, l := range p.Listeners {
		ls[i] = lmtp.Listener{Name: l.Name, L: l.L}
	}
	srv := &lmtp.Server{Listeners: ls, Log: p.Log, Hostname: hostname,
		RecipientDelimiter: c.RecipientDelimiter, SaveToDetailMailbox: c.LmtpSaveToDetailMailbox,
		UserConcurrencyLimit: c.LmtpUserConcurrencyLimit, NoReceivedHeader: !c.LmtpAddReceivedHeader,
		TempDir: c.MailTempDir, ClientLimit: clientLimit, MaxMessageSize: int64(c.LmtpMaxMessageSize)}
	ctx, cancel := p.Context()
	defer cancel()
	ctl := lmtp.NewControlDeliverer(p.Ctl, p.Log, func(now bool) {
		if now {
			srv.Close()
			return
		}
		go func() {
			sctx, stop := context.WithTimeout(context.Background(), time.Minute)
			defer stop()
			srv.Shutdown(sctx)
		}()
	})
	udb := lmtp.NewAuthUserdb(ctl.AuthConnect, p.Log)
	defer udb.Close()
	srv.Userdb, srv.Deliverer = udb, ctl
	if c.LmtpRcptCheckQuota {
		srv.CheckQuota = ctl.CheckQuota
		srv.QuotaFullTempfail = c.QuotaFullTempfail
	}
	srv.OnClients = func(n int) { ctl.ReportClients(n, clientLimit) }
	go func() {
		// Run returns when the channel ends; a close is the normal end.
		if err := ctl.Run(); !proto.IsClosed(err) {
			p.Log.Error("control channel", "err", err)
		}
		cancel()
	}()
	if err := srv.Serve(ctx); err != nil && !errors.Is(err, lmtp.ErrServerClosed) {
		return err
	}
	return nil
}
