package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"cote/auth"
	"cote/child"
	"cote/config"
	imaplogin "cote/imap-login"
	"cote/login"
	pop3login "cote/pop3-login"
	"cote/proto"
	"cote/worker"
)

// roles are the hidden subcommands the master executes.
var roles = map[string]func(*child.Process) error{
	proto.RoleAuth:      runAuth,
	proto.RoleIMAPLogin: runIMAPLogin,
	proto.RolePOP3Login: runPOP3Login,
	proto.RoleWorker:    runWorker,
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
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: min}, nil
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
	}
	ctx, cancel := p.Context()
	defer cancel()
	if err := srv.Serve(ctx); err != nil && !errors.Is(err, login.ErrServerClosed) {
		return err
	}
	return nil
}

func runWorker(p *child.Process) error {
	var linger time.Duration
	if svc := p.Config.Service("worker"); svc != nil {
		linger = svc.IdleKill
	}
	return worker.Run(worker.Options{Ctl: p.Ctl, Settings: p.Config, Log: p.Log, Linger: linger, Done: p.Done, Metrics: p.Metrics})
}
