package sieve

import (
	"strings"
)

// actionFlags returns the flags an action stores with: its :flags, or the
// internal variable when the script uses imap4flags (RFC 5232 section 4).
func (r *run) actionFlags(n *node) []string {
	if a, ok := n.tag("flags"); ok {
		return parseFlags(r.expandList(a.Strs))
	}
	if r.fr.script.required["imap4flags"] {
		return append([]string{}, r.flags...)
	}
	return nil
}

func (r *run) addAction(a Action) error {
	if len(r.res.Actions) >= r.limits.MaxActions {
		return r.limitErr("too many actions (limit %d)", r.limits.MaxActions)
	}
	r.res.Actions = append(r.res.Actions, a)
	return nil
}

// conflictsWithReject reports whether an action cannot go with reject or
// ereject (RFC 5429 section 2.1: reject is incompatible with actions that
// deliver or reply).
func (r *run) rejectConflict(what string) error {
	if r.reject {
		return r.errorf("%s conflicts with an earlier reject", what)
	}
	return nil
}

func mergeFlags(old, add []string) []string {
	if old == nil && add == nil {
		return nil
	}
	return parseFlags(append(append([]string{}, old...), add...))
}

// actionCommand runs the actions of RFC 5228 section 4 and extensions.
func (r *run) actionCommand(n *node) error {
	switch n.def.name {
	case "keep":
		if err := r.rejectConflict("keep"); err != nil {
			return err
		}
		flags := r.actionFlags(n)
		r.keep = false
		for i, a := range r.res.Actions {
			if k, ok := a.(Keep); ok {
				k.Flags = mergeFlags(k.Flags, flags)
				r.res.Actions[i] = k
				return nil
			}
		}
		r.explicit = true
		return r.addAction(Keep{Flags: flags})
	case "discard":
		r.keep = false
		for _, a := range r.res.Actions {
			if _, ok := a.(Discard); ok {
				return nil
			}
		}
		return r.addAction(Discard{})
	case "fileinto":
		return r.fileinto(n)
	case "redirect":
		return r.redirect(n)
	case "reject", "ereject":
		if r.reject {
			return r.errorf("more than one reject")
		}
		for _, a := range r.res.Actions {
			switch a.(type) {
			case Keep, FileInto, Redirect, Vacation:
				return r.errorf("%s conflicts with an earlier delivery action", n.def.name)
			}
		}
		r.reject = true
		r.keep = false
		return r.addAction(Reject{Reason: r.expand(n.args[0].Strs[0]), Extended: n.def.name == "ereject"})
	case "vacation":
		if err := r.rejectConflict("vacation"); err != nil {
			return err
		}
		if r.vacation {
			return r.errorf("more than one vacation action")
		}
		r.vacation = true
		return r.vacationAction(n)
	case "notify":
		return r.notify(n)
	}
	return r.errorf("internal error: no handler for command %s", n.def.name)
}

// fileinto is RFC 5228 section 4.1 with :copy (RFC 3894), :flags
// (RFC 5232), :create (RFC 5490), :specialuse (RFC 8579) and :mailboxid
// (RFC 9042).
func (r *run) fileinto(n *node) error {
	if err := r.rejectConflict("fileinto"); err != nil {
		return err
	}
	f := FileInto{
		Mailbox: r.expand(n.args[0].Strs[0]),
		Flags:   r.actionFlags(n),
		Copy:    n.hasTag("copy"),
		Create:  n.hasTag("create"),
	}
	if a, ok := n.tag("specialuse"); ok {
		f.SpecialUse = r.expand(a.Strs[0])
	}
	if a, ok := n.tag("mailboxid"); ok {
		f.MailboxID = r.expand(a.Strs[0])
	}
	if !f.Copy {
		r.keep = false
	}
	for i, a := range r.res.Actions {
		if old, ok := a.(FileInto); ok && sameMailbox(old.Mailbox, f.Mailbox) {
			old.Flags = mergeFlags(old.Flags, f.Flags)
			old.Copy = old.Copy && f.Copy
			old.Create = old.Create || f.Create
			r.res.Actions[i] = old
			return nil
		}
	}
	return r.addAction(f)
}

func sameMailbox(a, b string) bool {
	if strings.EqualFold(a, "INBOX") && strings.EqualFold(b, "INBOX") {
		return true
	}
	return a == b
}

// redirect is RFC 5228 section 4.2 with :copy (RFC 3894).
func (r *run) redirect(n *node) error {
	if err := r.rejectConflict("redirect"); err != nil {
		return err
	}
	addr := strings.TrimSpace(r.expand(n.args[0].Strs[0]))
	parsed, err := parseAddress(addr)
	if err != nil {
		return r.errorf("redirect: invalid address %q", addr)
	}
	addr = parsed.String()
	if !n.hasTag("copy") {
		r.keep = false
	}
	count := 0
	for i, a := range r.res.Actions {
		if old, ok := a.(Redirect); ok {
			if strings.EqualFold(old.Address, addr) {
				old.Copy = old.Copy && n.hasTag("copy")
				r.res.Actions[i] = old
				return nil
			}
			count++
		}
	}
	if count >= r.limits.MaxRedirects {
		return r.limitErr("too many redirects (limit %d)", r.limits.MaxRedirects)
	}
	return r.addAction(Redirect{Address: addr, Copy: n.hasTag("copy")})
}

// finish settles the implicit keep (RFC 5228 section 2.10.2) and the
// edited header.
func (r *run) finish() *Result {
	res := r.res
	res.ImplicitKeep = r.keep
	if r.keep && !r.explicit {
		var flags []string
		if r.flags != nil {
			flags = append([]string{}, r.flags...)
		}
		res.Actions = append(res.Actions, Keep{Flags: flags, Implicit: true})
	}
	res.HeaderChanged = r.changed
	res.Header = r.header
	return &res
}
