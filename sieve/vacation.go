package sieve

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"
)

// Vacation periods (RFC 5230 section 4.1, RFC 6131): Pigeonhole's
// defaults for the bounds.
const (
	vacationDefault = 7 * 24 * time.Hour
	vacationMin     = 24 * time.Hour
	vacationMax     = 60 * 24 * time.Hour
)

// Duplicate test periods (RFC 7352 section 3.3): Pigeonhole's defaults.
const (
	duplicateDefault = 12 * time.Hour
	duplicateMax     = 2 * 24 * time.Hour
)

func hashID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		io.WriteString(h, p)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// vacationAction is RFC 5230 section 4 with :seconds from RFC 6131.
func (r *run) vacationAction(n *node) error {
	v := Vacation{Reason: r.expand(n.args[0].Strs[0]), MIME: n.hasTag("mime")}
	period := vacationDefault
	if a, ok := n.tag("days"); ok {
		period = time.Duration(a.Num) * 24 * time.Hour
		if a.Num > uint64(vacationMax/(24*time.Hour)) {
			period = vacationMax
		}
		period = max(period, vacationMin)
	}
	if a, ok := n.tag("seconds"); ok {
		// RFC 6131 section 2: 0 means reply to every message.
		period = min(time.Duration(min(a.Num, uint64(vacationMax/time.Second)))*time.Second, vacationMax)
	}
	v.Period = period
	var mine []string
	for _, a := range []string{r.envelope.To, r.envelope.OrigTo} {
		if a = strings.Trim(a, "<>"); a != "" {
			mine = append(mine, a)
		}
	}
	if a, ok := n.tag("addresses"); ok {
		mine = append(mine, r.expandList(a.Strs)...)
	}
	if a, ok := n.tag("from"); ok {
		v.From = r.expand(a.Strs[0])
		if p, err := parseAddress(v.From); err == nil {
			mine = append(mine, p.String())
		} else {
			return r.errorf("vacation :from: invalid address %q", v.From)
		}
	} else {
		v.From = strings.Trim(r.envelope.To, "<>")
	}
	subject := ""
	if s := headerValues(r.header, "subject"); len(s) > 0 {
		subject = s[0]
	}
	if a, ok := n.tag("subject"); ok {
		v.Subject = r.expand(a.Strs[0])
	} else {
		v.Subject = "Auto: " + subject
	}
	v.To = strings.Trim(r.envelope.From, "<>")
	if why := r.vacationRefusal(v.To, mine); why != "" {
		r.res.Log = append(r.res.Log, fmt.Sprintf("%s: vacation: no reply: %s", n.pos, why))
		return nil
	}
	if a, ok := n.tag("handle"); ok {
		v.Handle = r.expand(a.Strs[0])
	} else {
		// RFC 5230 section 4.2: equal handles for equal actions.
		v.Handle = hashID(v.Subject, v.From, fmt.Sprint(v.MIME), v.Reason)
	}
	id := "vacation-" + hashID("vacation", v.Handle, strings.ToLower(v.To))
	if store := r.env.Duplicates(); store != nil {
		seen, err := store.Seen(r.ctx, id)
		if err != nil {
			return r.envErr("vacation", err)
		}
		if seen {
			r.res.Log = append(r.res.Log, fmt.Sprintf("%s: vacation: no reply: already replied to %s", n.pos, v.To))
			return nil
		}
	}
	if msgID := rawHeaderValues(r.header, "message-id"); len(msgID) > 0 {
		v.InReplyTo = msgID[0]
		v.References = msgID[0]
		if refs := rawHeaderValues(r.header, "references"); len(refs) > 0 {
			v.References = refs[0] + " " + msgID[0]
		}
	}
	if period > 0 {
		r.res.Marks = append(r.res.Marks, DuplicateMark{ID: id, Expires: r.env.Now().Add(period)})
	}
	return r.addAction(v)
}

// vacationRefusal returns why no reply may go to sender, or "" (RFC 5230
// sections 4.5 and 4.6).
func (r *run) vacationRefusal(sender string, mine []string) string {
	if sender == "" {
		return "null sender"
	}
	local := strings.ToLower(splitAddr(sender).local)
	switch {
	case local == "mailer-daemon", local == "listserv", local == "majordomo",
		strings.HasPrefix(local, "owner-"), strings.HasSuffix(local, "-request"):
		return "sender " + sender + " is an automated address"
	}
	for _, m := range mine {
		if strings.EqualFold(m, sender) {
			return "sender is the recipient"
		}
	}
	for _, v := range headerValues(r.header, "auto-submitted") {
		if !strings.EqualFold(strings.TrimSpace(strings.SplitN(v, ";", 2)[0]), "no") {
			return "message is Auto-Submitted: " + v
		}
	}
	for _, v := range headerValues(r.header, "precedence") {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "bulk", "list", "junk":
			return "message has Precedence: " + v
		}
	}
	for _, h := range []string{"list-id", "list-owner", "list-unsubscribe", "list-post", "list-help"} {
		if r.hasHeader(h) {
			return "message is from a mailing list"
		}
	}
	for _, h := range []string{"to", "cc", "bcc", "resent-to", "resent-cc", "resent-bcc"} {
		for _, f := range rawHeaderValues(r.header, h) {
			for _, a := range parseAddressList(f) {
				for _, m := range mine {
					if strings.EqualFold(a.String(), m) {
						return ""
					}
				}
			}
		}
	}
	return "recipient's address is not in To, Cc or Bcc"
}

// Compose writes the reply as a message to submit: RFC 5230 section 5
// (In-Reply-To, References, Auto-Submitted: auto-replied).
func (v Vacation) Compose(w io.Writer, date time.Time, messageID string) error {
	var b strings.Builder
	if strings.Contains(v.From, "<") {
		fmt.Fprintf(&b, "From: %s\r\n", v.From)
	} else {
		fmt.Fprintf(&b, "From: <%s>\r\n", v.From)
	}
	fmt.Fprintf(&b, "To: <%s>\r\n", v.To)
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", v.Subject))
	fmt.Fprintf(&b, "Date: %s\r\n", date.Format(time.RFC1123Z))
	if messageID != "" {
		fmt.Fprintf(&b, "Message-ID: %s\r\n", messageID)
	}
	if v.InReplyTo != "" {
		fmt.Fprintf(&b, "In-Reply-To: %s\r\n", v.InReplyTo)
		fmt.Fprintf(&b, "References: %s\r\n", v.References)
	}
	b.WriteString("Auto-Submitted: auto-replied (vacation)\r\n")
	b.WriteString("Precedence: bulk\r\n")
	b.WriteString("MIME-Version: 1.0\r\n")
	if v.MIME {
		b.WriteString(v.Reason)
	} else {
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\n")
		b.WriteString("Content-Transfer-Encoding: 8bit\r\n\r\n")
		b.WriteString(v.Reason)
		if !strings.HasSuffix(v.Reason, "\n") {
			b.WriteString("\r\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// duplicateTest is RFC 7352 section 3.
func (r *run) duplicateTest(n *node) (bool, error) {
	handle := ""
	if a, ok := n.tag("handle"); ok {
		handle = r.expand(a.Strs[0])
	}
	var value string
	if a, ok := n.tag("uniqueid"); ok {
		value = r.expand(a.Strs[0])
	} else {
		name := "message-id"
		if a, ok := n.tag("header"); ok {
			name = r.expand(a.Strs[0])
		}
		vals := rawHeaderValues(r.header, name)
		if len(vals) == 0 || vals[0] == "" {
			return false, nil // section 3.1: no field, no duplicate
		}
		value = vals[0]
	}
	period := duplicateDefault
	if a, ok := n.tag("seconds"); ok {
		period = min(time.Duration(min(a.Num, uint64(duplicateMax/time.Second)))*time.Second, duplicateMax)
	}
	id := "duplicate-" + hashID("duplicate", handle, value)
	store := r.env.Duplicates()
	if store == nil {
		return false, nil
	}
	seen, err := store.Seen(r.ctx, id)
	if err != nil {
		return false, r.envErr("duplicate", err)
	}
	if !seen || n.hasTag("last") {
		r.res.Marks = append(r.res.Marks, DuplicateMark{ID: id, Expires: r.env.Now().Add(period)})
	}
	return seen, nil
}
