package deliver

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
)

// NewSender returns the Sender for the settings submission_host and
// sendmail_path, as Dovecot's: a non-empty submissionHost (host:port) is
// used over SMTP, otherwise sendmailPath is run. hostname is the name
// given in EHLO. It returns nil when both are empty.
func NewSender(sendmailPath, submissionHost, hostname string) Sender {
	if submissionHost != "" {
		return &SMTPSender{Addr: submissionHost, Hostname: hostname}
	}
	if sendmailPath != "" {
		return &SendmailSender{Path: sendmailPath}
	}
	return nil
}

// SendmailSender runs `Path -i -f FROM -- TO...` with the message on its
// standard input; the null sender is given as "<>".
type SendmailSender struct {
	Path string
}

// Send implements Sender.
func (s *SendmailSender) Send(ctx context.Context, from string, to []string, msg io.Reader) error {
	if len(to) == 0 {
		return errors.New("sendmail: no recipients")
	}
	if from == "" {
		from = "<>"
	}
	args := append([]string{"-i", "-f", from, "--"}, to...)
	cmd := exec.CommandContext(ctx, s.Path, args...)
	cmd.Stdin = msg
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if txt := strings.TrimSpace(out.String()); txt != "" {
			return fmt.Errorf("%s: %w: %s", s.Path, err, oneLine(truncate(txt, 200)))
		}
		return fmt.Errorf("%s: %w", s.Path, err)
	}
	return nil
}

// SMTPSender submits over SMTP to Addr (host:port), with STARTTLS when
// the server offers it.
type SMTPSender struct {
	Addr     string
	Hostname string
	// TLSConfig is used for STARTTLS; nil verifies against the host
	// name of Addr.
	TLSConfig *tls.Config
	Timeout   time.Duration // dial and command timeout; 0 is 30s
}

// Send implements Sender.
func (s *SMTPSender) Send(ctx context.Context, from string, to []string, msg io.Reader) error {
	if len(to) == 0 {
		return errors.New("smtp: no recipients")
	}
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	c, err := s.dial(ctx, timeout, nil)
	if err != nil {
		return err
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		c.Close()
		cfg := s.TLSConfig
		if cfg == nil {
			host, _, _ := net.SplitHostPort(s.Addr)
			cfg = &tls.Config{ServerName: host}
		}
		if c, err = s.dial(ctx, timeout, cfg); err != nil {
			return err
		}
	}
	defer c.Close()
	if err := c.SendMail(from, to, msg); err != nil {
		return fmt.Errorf("submission_host %s: %w", s.Addr, err)
	}
	return c.Quit()
}

// dial connects and greets, with STARTTLS when tlsConfig is set.
func (s *SMTPSender) dial(ctx context.Context, timeout time.Duration, tlsConfig *tls.Config) (*smtp.Client, error) {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return nil, fmt.Errorf("submission_host %s: %w", s.Addr, err)
	}
	context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	var c *smtp.Client
	if tlsConfig != nil {
		if c, err = smtp.NewClientStartTLS(conn, tlsConfig); err != nil {
			conn.Close()
			return nil, fmt.Errorf("submission_host %s: STARTTLS: %w", s.Addr, err)
		}
	} else {
		c = smtp.NewClient(conn)
	}
	c.CommandTimeout = timeout
	c.SubmissionTimeout = timeout
	if s.Hostname != "" && tlsConfig == nil {
		if err := c.Hello(s.Hostname); err != nil {
			c.Close()
			return nil, fmt.Errorf("submission_host %s: %w", s.Addr, err)
		}
	}
	return c, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
