package worker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"mime"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"cote/config"
	"cote/lmtp/deliver"
	"cote/sieve"
	"cote/sieve/managesieve"
	"cote/sieve/script"
)

// sieveFilter runs the user's Sieve scripts (RFC 5228) at delivery, the
// way Pigeonhole does: the sieve_before scripts, then the user's active
// script (the one ManageSieve activated, or the `sieve` file) or else
// sieve_default, then the sieve_after scripts. Each next script runs only
// while the message is still kept. An error in any script falls back to
// keep, and is recorded in ~/.sieve.log.
type sieveFilter struct {
	home     string
	scripts  *script.Store
	cache    *script.Cache
	dupes    sieve.DuplicateStore
	delim    string
	hostname string
	before   []string // sieve_before locations, in order
	after    []string // sieve_after locations, in order
	def      string   // sieve_default, "" for none
	log      *slog.Logger
}

// newSieveFilter reads Pigeonhole's settings from plugin { }: sieve,
// sieve_before (sieve_before2, ...), sieve_after (...) and sieve_default.
func newSieveFilter(home, delimiter, hostname string, plugin map[string]string, log *slog.Logger) *sieveFilter {
	st := userScripts(home, plugin["sieve"])
	if hostname == "" {
		hostname, _ = os.Hostname()
	}
	sc := newSieveConfig(plugin, home, log)
	f := &sieveFilter{
		home:    home,
		scripts: st,
		cache: script.NewCache(sieve.CompileOptions{Extensions: sc.exts, Limits: sc.limits},
			script.DirResolver{Personal: st.Dir, Global: sc.global}, 32),
		dupes:    sieve.NewFileDuplicateStore(filepath.Join(home, ".cote.sieve-dupes"), nil),
		delim:    delimiter,
		hostname: hostname,
		before:   numbered(plugin, "sieve_before", home),
		after:    numbered(plugin, "sieve_after", home),
		log:      log,
	}
	if d := plugin["sieve_default"]; d != "" {
		f.def, _ = parseSieveLocation(d, home)
	}
	return f
}

// userScripts is the user's script storage at the `sieve` location
// (Pigeonhole's "file:~/sieve;active=~/.dovecot.sieve", or the path of
// the active script), or the default layout.
func userScripts(home, loc string) *script.Store {
	st := script.New(home)
	if loc != "" {
		dir, active := parseSieveLocation(loc, home)
		if active != "" {
			st.ActivePath = active
			if dir != "" {
				st.Dir = dir
			}
		} else if dir != "" {
			// `sieve = ~/.dovecot.sieve`: the path of the active script.
			st.ActivePath = dir
		}
	}
	return st
}

// sieveConfig is what scripts compile with, at delivery and over
// ManageSieve.
type sieveConfig struct {
	exts   sieve.ExtensionSet // nil: the defaults
	limits sieve.Limits       // zero fields: the defaults
	global string             // sieve_global directory; "" for none
	loc    string             // the `sieve` location of the user's scripts
}

// newSieveConfig reads sieve_extensions, sieve_global (or
// sieve_global_dir), sieve_max_redirects, sieve_max_actions,
// sieve_max_script_size and sieve_max_cpu_time from plugin { }. The
// master has validated them; what is still wrong is logged and left at
// the default.
func newSieveConfig(plugin map[string]string, home string, log *slog.Logger) sieveConfig {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ss, err := config.ParseSieve(plugin)
	if err != nil {
		log.Warn("sieve settings", "err", err)
	}
	c := sieveConfig{limits: sieve.Limits{
		MaxRedirects:  ss.MaxRedirects,
		MaxActions:    ss.MaxActions,
		MaxScriptSize: int(min(ss.MaxScriptSize, 1<<30)),
		MaxTime:       ss.MaxCPUTime,
	}}
	if ss.Extensions != "" {
		exts, unknown := sieve.ParseExtensions(sieve.DefaultExtensions(), ss.Extensions)
		if len(unknown) > 0 {
			log.Warn("sieve_extensions: unknown extensions left out", "unknown", unknown)
		}
		c.exts = exts
	}
	if ss.Global != "" {
		c.global, _ = parseSieveLocation(ss.Global, home)
	}
	c.loc = plugin["sieve"]
	return c
}

// manageSieve sets what ManageSieve works with: the scripts delivery
// runs (the `sieve` location), checked with the same extensions, limits
// and global directory, and MAXREDIRECTS from sieve_max_redirects.
func (c sieveConfig) manageSieve(o managesieve.Options) managesieve.Options {
	if o.Home != "" && o.Store == nil {
		o.Store = userScripts(o.Home, c.loc)
	}
	o.Extensions, o.Limits, o.GlobalDir = c.exts, c.limits, c.global
	o.MaxRedirects = c.limits.MaxRedirects
	return o
}

// numbered returns the locations of key, key2, key3, ... (Pigeonhole's
// way of listing several).
func numbered(plugin map[string]string, key, home string) []string {
	var out []string
	for i := 1; ; i++ {
		k := key
		if i > 1 {
			k += strconv.Itoa(i)
		}
		v, ok := plugin[k]
		if !ok {
			if i > 1 {
				return out
			}
			continue
		}
		if p, _ := parseSieveLocation(v, home); p != "" {
			out = append(out, p)
		}
	}
}

// parseSieveLocation parses a Pigeonhole script location such as
// "file:~/sieve;active=~/.dovecot.sieve" or "/etc/sieve/before.sieve"
// into the path and the active= option, with ~ expanded.
func parseSieveLocation(loc, home string) (path, active string) {
	loc = strings.TrimSpace(loc)
	loc = strings.TrimPrefix(loc, "file:")
	parts := strings.Split(loc, ";")
	path = expandHome(parts[0], home)
	for _, p := range parts[1:] {
		if v, ok := strings.CutPrefix(p, "active="); ok {
			active = expandHome(v, home)
		}
	}
	return path, active
}

func expandHome(p, home string) string {
	if p == "~" {
		return home
	}
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		return filepath.Join(home, rest)
	}
	return p
}

// scriptFiles expands a location: a file is itself, a directory its
// *.sieve files in name order. A missing location has none.
func scriptFiles(loc string) ([]string, error) {
	st, err := os.Stat(loc)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{loc}, nil
	}
	ents, err := os.ReadDir(loc)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".sieve") {
			out = append(out, filepath.Join(loc, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

// sieveRun is one script of the sequence.
type sieveRun struct {
	path     string
	name     string
	personal bool // the user's own: errors go to ~/.sieve.log
}

// sequence lists the scripts to run for one delivery.
func (f *sieveFilter) sequence(log *slog.Logger) ([]sieveRun, error) {
	var seq []sieveRun
	add := func(locs []string) {
		for _, loc := range locs {
			files, err := scriptFiles(loc)
			if err != nil {
				log.Warn("sieve: cannot read script location", "location", loc, "err", err)
			}
			for _, p := range files {
				seq = append(seq, sieveRun{path: p, name: p})
			}
		}
	}
	add(f.before)
	name, err := f.scripts.Active()
	if err != nil {
		return nil, err
	}
	switch {
	case name != "":
		p, err := f.scripts.Path(name)
		if err != nil {
			return nil, err
		}
		seq = append(seq, sieveRun{path: p, name: name, personal: true})
	case isRegular(f.scripts.ActivePath):
		seq = append(seq, sieveRun{path: f.scripts.ActivePath, name: filepath.Base(f.scripts.ActivePath), personal: true})
	case f.def != "" && isRegular(f.def):
		seq = append(seq, sieveRun{path: f.def, name: f.def})
	}
	add(f.after)
	return seq, nil
}

func isRegular(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// Filter implements deliver.Filter. Without any script the message is
// kept. Vacation replies and notifications go into Actions.Messages, sent
// once the delivery succeeded; the duplicate tracking is committed then.
func (f *sieveFilter) Filter(ctx context.Context, env deliver.FilterEnv) (deliver.Actions, error) {
	log := env.Log
	if log == nil {
		log = f.log
	}
	seq, err := f.sequence(log)
	if err != nil {
		return deliver.Actions{Keep: true}, err
	}
	if len(seq) == 0 {
		return deliver.Actions{Keep: true}, nil
	}
	msg, err := sieve.OpenMessage(env.Message, env.Size)
	if err != nil {
		return deliver.Actions{Keep: true}, err
	}
	exists := env.MailboxExists
	if exists == nil {
		exists = func(string) bool { return false }
	}
	senv := &sieve.StaticEnv{
		Env:   sieve.Envelope{From: env.MailFrom, To: env.RcptTo, Delimiters: f.delim},
		Msg:   msg,
		Boxes: sieve.MailboxExistsFunc(exists),
		Dupes: f.dupes,
	}
	var (
		results []*sieve.Result
		actions []sieve.Action
		edited  bool // a script changed the header (RFC 5293)
	)
	for i, sr := range seq {
		scr, err := f.cache.Load(sr.path)
		if err == nil {
			var res *sieve.Result
			if res, err = scr.Run(ctx, senv); err == nil {
				results = append(results, res)
				if res.HeaderChanged {
					// The next script sees, and the actions store
					// and redirect, the message as edited.
					senv.Msg = res.Edited(senv.Msg)
					edited = true
				}
				last := i == len(seq)-1 || !kept(res)
				for _, a := range res.Actions {
					if k, ok := a.(sieve.Keep); ok && k.Implicit && !last {
						continue // the next script decides
					}
					actions = append(actions, a)
				}
				if sr.personal {
					for _, note := range res.Log {
						f.userLog("%s: %s", sr.name, note)
					}
				}
				if last {
					break
				}
				continue
			}
		}
		if sr.personal {
			f.userLog("%s: %v (message kept)", sr.name, err)
		}
		return deliver.Actions{Keep: true}, fmt.Errorf("sieve script %s: %w", sr.name, err)
	}
	a := f.actions(actions, env, msg, log)
	if edited {
		a.Header = sieve.HeaderBytes(senv.Msg.Header())
		a.BodyOffset = msg.BodyOffset()
	}
	a.Done = func(ctx context.Context, delivered bool) {
		if !delivered {
			return
		}
		for _, res := range results {
			if err := res.Commit(ctx, f.dupes); err != nil {
				log.Warn("sieve: duplicate tracking", "err", err)
			}
		}
	}
	return a, nil
}

// kept reports whether a script's result keeps the message, so that the
// next script in the sequence runs.
func kept(res *sieve.Result) bool {
	for _, a := range res.Actions {
		if _, ok := a.(sieve.Keep); ok {
			return true
		}
	}
	return false
}

// actions maps the Sieve actions to the delivery's.
func (f *sieveFilter) actions(acts []sieve.Action, env deliver.FilterEnv, msg sieve.Message, log *slog.Logger) deliver.Actions {
	var a deliver.Actions
	for _, act := range acts {
		switch act := act.(type) {
		case sieve.Keep:
			a.Keep = true
			a.KeepFlags = append(a.KeepFlags, act.Flags...)
		case sieve.FileInto:
			a.FileInto = append(a.FileInto, deliver.FileInto{Mailbox: act.Mailbox, Flags: act.Flags, Create: act.Create})
		case sieve.Redirect:
			a.Redirect = append(a.Redirect, act.Address)
		case sieve.Reject:
			a.Reject = act.Reason
			a.Ereject = act.Extended
		case sieve.Discard:
			a.Discard = true
		case sieve.Vacation:
			var b strings.Builder
			if err := act.Compose(&b, time.Now(), f.messageID("vacation")); err != nil {
				log.Warn("sieve: vacation reply", "err", err)
				continue
			}
			// RFC 5230 section 5.1 (and RFC 3834 section 3.3): the
			// reply goes out with the null envelope sender.
			a.Messages = append(a.Messages, deliver.Outgoing{Kind: "vacation", To: []string{act.To}, Data: []byte(b.String())})
		case sieve.Notify:
			out, err := f.notification(act, env, msg)
			if err != nil {
				log.Warn("sieve: notification", "method", act.Method, "err", err)
				continue
			}
			a.Messages = append(a.Messages, *out)
		}
	}
	return a
}

func (f *sieveFilter) messageID(kind string) string {
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	return fmt.Sprintf("<cote.%s.%s@%s>", kind, hex.EncodeToString(rnd[:]), f.hostname)
}

// notifyHeaders are the mailto header fields a script may set (RFC 5436
// section 2.3); the others are ours or unsafe.
var notifyHeaders = map[string]string{
	"subject": "Subject", "keywords": "Keywords", "comments": "Comments",
	"in-reply-to": "In-Reply-To", "references": "References",
}

// notification builds an enotify mailto message (RFC 5436): From the
// recipient (or :from), Auto-Submitted: auto-notified, null envelope
// sender. Messages that are themselves automatic get none (section 2.7).
func (f *sieveFilter) notification(n sieve.Notify, env deliver.FilterEnv, msg sieve.Message) (*deliver.Outgoing, error) {
	m, err := sieve.ParseMailto(n.Method)
	if err != nil {
		return nil, err
	}
	var subject, origFrom string
	for _, h := range msg.Header() {
		switch strings.ToLower(h.Name) {
		case "auto-submitted":
			if v := strings.ToLower(strings.TrimSpace(h.Value)); v != "" && !strings.HasPrefix(v, "no") {
				return nil, fmt.Errorf("not notifying about an automatic message (Auto-Submitted: %s)", v)
			}
		case "subject":
			if subject == "" {
				subject = h.Value
			}
		case "from":
			if origFrom == "" {
				origFrom = h.Value
			}
		}
	}
	from := n.From
	if from == "" {
		from = strings.Trim(env.RcptTo, "<>")
	}
	clean := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return ' '
			}
			return r
		}, s)
	}
	var b strings.Builder
	if strings.Contains(from, "<") {
		fmt.Fprintf(&b, "From: %s\r\n", clean(from))
	} else {
		fmt.Fprintf(&b, "From: <%s>\r\n", clean(from))
	}
	fmt.Fprintf(&b, "To: %s\r\n", clean(strings.Join(m.To, ", ")))
	subj := m.Headers["subject"]
	if subj == "" {
		subj = n.Message
	}
	if subj == "" {
		subj = "[SIEVE] New mail: " + subject
	}
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", clean(subj)))
	for k, name := range notifyHeaders {
		if v := m.Headers[k]; v != "" && k != "subject" {
			fmt.Fprintf(&b, "%s: %s\r\n", name, clean(v))
		}
	}
	fmt.Fprintf(&b, "Date: %s\r\n", time.Now().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: %s\r\n", f.messageID("notify"))
	switch n.Importance {
	case "1":
		b.WriteString("X-Priority: 1 (Highest)\r\nImportance: High\r\n")
	case "3":
		b.WriteString("X-Priority: 5 (Lowest)\r\nImportance: Low\r\n")
	}
	b.WriteString("Auto-Submitted: auto-notified\r\n")
	b.WriteString("Precedence: bulk\r\n")
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	body := m.Body
	if body == "" {
		body = n.Message
	}
	if body == "" {
		body = fmt.Sprintf("New mail from %s: %s", origFrom, subject)
	}
	b.WriteString(strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n"))
	b.WriteString("\r\n")
	return &deliver.Outgoing{Kind: "notify", To: m.To, Data: []byte(b.String())}, nil
}

// userLog appends a line to ~/.sieve.log, where the user (or ManageSieve
// clients) can read why their script did not do what they meant.
func (f *sieveFilter) userLog(format string, args ...any) {
	if f.home == "" {
		return
	}
	p := filepath.Join(f.home, ".sieve.log")
	fh, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		f.log.Warn("sieve: cannot write .sieve.log", "err", err)
		return
	}
	defer fh.Close()
	line := strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", "\n  ")
	fmt.Fprintf(fh, "%s %s\n", time.Now().Format(time.RFC3339), line)
}
