package worker

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"cote/lmtp/deliver"
	"cote/sieve"
	"cote/sieve/script"
)

// sieveFilter runs the user's active Sieve script (RFC 5228) at delivery:
// the script ManageSieve activated, found through ~/.cote.sieve.
type sieveFilter struct {
	scripts *script.Store
	cache   *script.Cache
	dupes   sieve.DuplicateStore
	delim   string
	log     *slog.Logger
}

func newSieveFilter(home, delimiter string, log *slog.Logger) *sieveFilter {
	st := script.New(home)
	return &sieveFilter{
		scripts: st,
		cache:   script.NewCache(sieve.CompileOptions{}, script.DirResolver{Personal: st.Dir}, 16),
		dupes:   sieve.NewFileDuplicateStore(filepath.Join(home, ".cote.sieve-dupes"), nil),
		delim:   delimiter,
		log:     log,
	}
}

// Filter implements deliver.Filter. With no active script the message is
// kept. Vacation replies and notifications are logged, not sent: there is
// no sender configured yet.
func (f *sieveFilter) Filter(ctx context.Context, env deliver.FilterEnv) (deliver.Actions, error) {
	name, err := f.scripts.Active()
	if err != nil || name == "" {
		return deliver.Actions{Keep: true}, err
	}
	path, err := f.scripts.Path(name)
	if err != nil {
		return deliver.Actions{Keep: true}, err
	}
	scr, err := f.cache.Load(path)
	if err != nil {
		return deliver.Actions{Keep: true}, fmt.Errorf("sieve script %s: %w", name, err)
	}
	msg, err := sieve.OpenMessage(env.Message, env.Size)
	if err != nil {
		return deliver.Actions{Keep: true}, err
	}
	exists := env.MailboxExists
	if exists == nil {
		exists = func(string) bool { return false }
	}
	res, err := scr.Run(ctx, &sieve.StaticEnv{
		Env:   sieve.Envelope{From: env.MailFrom, To: env.RcptTo, Delimiters: f.delim},
		Msg:   msg,
		Boxes: sieve.MailboxExistsFunc(exists),
		Dupes: f.dupes,
	})
	if err != nil {
		return deliver.Actions{Keep: true}, fmt.Errorf("sieve script %s: %w", name, err)
	}
	var a deliver.Actions
	for _, act := range res.Actions {
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
		case sieve.Discard:
			a.Discard = true
		case sieve.Vacation:
			f.log.Info("sieve: vacation reply not sent (no sender configured)", "to", act.To)
		case sieve.Notify:
			f.log.Info("sieve: notification not sent (no sender configured)", "method", act.Method)
		}
	}
	if err := res.Commit(ctx, f.dupes); err != nil {
		f.log.Warn("sieve: duplicate tracking", "err", err)
	}
	return a, nil
}
