package sieve

import (
	"strings"
)

// test evaluates a test node (RFC 5228 section 5 and extensions).
func (r *run) test(n *node) (bool, error) {
	if err := r.step(); err != nil {
		return false, err
	}
	r.pos = n.pos
	switch n.def.name {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "not":
		ok, err := r.test(n.tests[0])
		return !ok, err
	case "anyof":
		for _, t := range n.tests {
			ok, err := r.test(t)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case "allof":
		for _, t := range n.tests {
			ok, err := r.test(t)
			if err != nil || !ok {
				return ok, err
			}
		}
		return true, nil
	case "exists":
		// RFC 5228 section 5.5: true when every named field exists.
		for _, name := range r.expandList(n.args[0].Strs) {
			if !r.hasHeader(name) {
				return false, nil
			}
		}
		return true, nil
	case "size":
		// RFC 5228 section 5.9.
		a := n.args[0].Num
		size := uint64(r.msg.Size())
		if n.hasTag("over") {
			return size > a, nil
		}
		return size < a, nil
	case "header":
		return r.headerTest(n)
	case "address":
		return r.addressTest(n)
	case "envelope":
		return r.envelopeTest(n)
	case "string":
		// RFC 5229 section 5: for :count, empty strings are not counted.
		values := r.expandList(n.args[0].Strs)
		if n.match.typ == "count" {
			var nonEmpty []string
			for _, v := range values {
				if v != "" {
					nonEmpty = append(nonEmpty, v)
				}
			}
			values = nonEmpty
		}
		return r.match(n.match, values, r.expandList(n.args[1].Strs))
	case "hasflag":
		// RFC 5232 section 5.
		var flags []string
		if n.args[0] != nil {
			for _, v := range n.args[0].Strs {
				flags = append(flags, parseFlags([]string{r.getVar(v)})...)
			}
		} else {
			flags = r.flags
		}
		return r.match(n.match, flags, r.expandList(n.args[1].Strs))
	case "body":
		return r.bodyTest(n)
	case "date", "currentdate":
		return r.dateTest(n)
	case "mailboxexists":
		return r.mailboxExists(n)
	case "specialuse_exists":
		return r.specialUseExists(n)
	case "mailboxidexists":
		return r.mailboxIDExists(n)
	case "environment":
		return r.environmentTest(n)
	case "duplicate":
		return r.duplicateTest(n)
	case "spamtest", "virustest":
		return r.scoreTest(n)
	case "ihave":
		// RFC 5463 section 4.
		for _, e := range r.expandList(n.args[0].Strs) {
			if !n.owner.exts.has(strings.ToLower(e)) {
				return false, nil
			}
		}
		return true, nil
	case "valid_notify_method":
		for _, m := range r.expandList(n.args[0].Strs) {
			if checkNotifyMethod(m) != nil {
				return false, nil
			}
		}
		return true, nil
	case "notify_method_capability":
		return r.notifyCapability(n)
	}
	return false, r.errorf("internal error: no handler for test %s", n.def.name)
}

func (r *run) hasHeader(name string) bool {
	for _, f := range r.header {
		if strings.EqualFold(f.Name, name) {
			return true
		}
	}
	return false
}

// indexed applies :index and :last (RFC 5260 section 6) to the values of
// one field name.
func indexed(n *node, values []string) []string {
	a, ok := n.tag("index")
	if !ok {
		return values
	}
	i := int(a.Num) - 1
	if n.hasTag("last") {
		i = len(values) - int(a.Num)
	}
	if i < 0 || i >= len(values) {
		return nil
	}
	return values[i : i+1]
}

// headerTest is RFC 5228 section 5.7.
func (r *run) headerTest(n *node) (bool, error) {
	var values []string
	for _, name := range r.expandList(n.args[0].Strs) {
		values = append(values, indexed(n, headerValues(r.header, name))...)
	}
	return r.match(n.match, values, r.expandList(n.args[1].Strs))
}

// addressPart extracts the :localpart, :domain, :all, :user or :detail
// of an address (RFC 5228 section 2.7.4, RFC 5233 section 4). ok is
// false when the part does not exist (no detail).
func (r *run) addressPart(n *node, a address) (string, bool) {
	switch {
	case n.hasTag("localpart"):
		return a.local, true
	case n.hasTag("domain"):
		return a.domain, true
	case n.hasTag("user"), n.hasTag("detail"):
		delims := r.envelope.Delimiters
		if delims == "" {
			delims = "+"
		}
		i := strings.IndexAny(a.local, delims)
		if n.hasTag("user") {
			if i < 0 {
				return a.local, true
			}
			return a.local[:i], true
		}
		if i < 0 {
			return "", false
		}
		return a.local[i+1:], true
	}
	return a.String(), true
}

// addressTest is RFC 5228 section 5.1.
func (r *run) addressTest(n *node) (bool, error) {
	var values []string
	for _, name := range r.expandList(n.args[0].Strs) {
		fields := indexed(n, rawHeaderValues(r.header, name))
		for _, f := range fields {
			for _, a := range parseAddressList(f) {
				if v, ok := r.addressPart(n, a); ok {
					values = append(values, v)
				}
			}
		}
	}
	return r.match(n.match, values, r.expandList(n.args[1].Strs))
}

// envelopeTest is RFC 5228 section 5.4.
func (r *run) envelopeTest(n *node) (bool, error) {
	var values []string
	for _, part := range r.expandList(n.args[0].Strs) {
		var addr string
		switch strings.ToLower(part) {
		case "from":
			addr = r.envelope.From
		case "to":
			addr = r.envelope.To
		case "auth":
			addr = r.envelope.Auth
			if addr == "" {
				continue
			}
		default:
			continue
		}
		addr = strings.Trim(addr, "<>")
		if addr == "" {
			// The null reverse-path: only :all sees it, as "".
			if n.hasTag("localpart") || n.hasTag("domain") || n.hasTag("user") || n.hasTag("detail") {
				continue
			}
			values = append(values, "")
			continue
		}
		if v, ok := r.addressPart(n, splitAddr(addr)); ok {
			values = append(values, v)
		}
	}
	return r.match(n.match, values, r.expandList(n.args[1].Strs))
}

// mailboxExists is RFC 5490 section 3.1.
func (r *run) mailboxExists(n *node) (bool, error) {
	boxes := r.env.Mailboxes()
	for _, name := range r.expandList(n.args[0].Strs) {
		if boxes == nil {
			return false, nil
		}
		ok, err := boxes.MailboxExists(r.ctx, name)
		if err != nil {
			return false, r.envErr("mailboxexists", err)
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

// specialUseExists is RFC 8579 section 4.
func (r *run) specialUseExists(n *node) (bool, error) {
	boxes := r.env.Mailboxes()
	if boxes == nil {
		return false, nil
	}
	mailbox := ""
	if n.args[0] != nil {
		mailbox = r.expand(n.args[0].Strs[0])
	}
	ok, err := boxes.SpecialUseExists(r.ctx, mailbox, r.expandList(n.args[1].Strs))
	if err != nil {
		return false, r.envErr("specialuse_exists", err)
	}
	return ok, nil
}

// mailboxIDExists is RFC 9042 section 4.
func (r *run) mailboxIDExists(n *node) (bool, error) {
	boxes := r.env.Mailboxes()
	for _, id := range r.expandList(n.args[0].Strs) {
		if boxes == nil {
			return false, nil
		}
		ok, err := boxes.MailboxIDExists(r.ctx, id)
		if err != nil {
			return false, r.envErr("mailboxidexists", err)
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

func (r *run) envErr(what string, err error) error {
	return &RuntimeError{Pos: r.pos, Msg: what + ": " + err.Error(), Err: err}
}

// environmentTest is RFC 5183 section 4.
func (r *run) environmentTest(n *node) (bool, error) {
	name := strings.ToLower(r.expand(n.args[0].Strs[0]))
	v, ok := r.env.EnvironmentItem(name)
	if !ok {
		switch name {
		case "name":
			v, ok = "cote", true
		case "location":
			v, ok = "MDA", true
		case "phase":
			v, ok = "during", true
		case "domain", "host":
			if d := splitAddr(r.envelope.To).domain; d != "" && name == "domain" {
				v, ok = d, true
			}
		}
	}
	if !ok {
		return false, nil
	}
	return r.match(n.match, []string{v}, r.expandList(n.args[1].Strs))
}
