package sieve

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Mailto is a parsed mailto: URI (RFC 6068) as enotify uses it (RFC 5436).
type Mailto struct {
	To      []string
	Headers map[string]string // lowercased names, other than to and body
	Body    string
}

// ParseMailto parses a notification method URI. Only mailto is supported.
func ParseMailto(uri string) (*Mailto, error) {
	scheme, rest, ok := strings.Cut(uri, ":")
	if !ok || !strings.EqualFold(scheme, "mailto") {
		return nil, fmt.Errorf("unsupported notification method %q", uri)
	}
	addrPart, query, _ := strings.Cut(rest, "?")
	m := &Mailto{Headers: make(map[string]string)}
	add := func(list string) error {
		for _, a := range strings.Split(list, ",") {
			a, err := url.PathUnescape(strings.TrimSpace(a))
			if err != nil {
				return fmt.Errorf("bad mailto address: %w", err)
			}
			if a == "" {
				continue
			}
			p, err := parseAddress(a)
			if err != nil {
				return fmt.Errorf("bad mailto address %q", a)
			}
			m.To = append(m.To, p.String())
		}
		return nil
	}
	if err := add(addrPart); err != nil {
		return nil, err
	}
	if query != "" {
		for _, kv := range strings.Split(query, "&") {
			k, v, _ := strings.Cut(kv, "=")
			k, err1 := url.QueryUnescape(k)
			v, err2 := url.PathUnescape(v)
			if err1 != nil || err2 != nil {
				return nil, errors.New("bad mailto header")
			}
			switch k = strings.ToLower(k); k {
			case "to":
				if err := add(v); err != nil {
					return nil, err
				}
			case "body":
				m.Body = v
			default:
				m.Headers[k] = v
			}
		}
	}
	if len(m.To) == 0 {
		return nil, errors.New("mailto URI without a recipient")
	}
	return m, nil
}

func checkNotifyMethod(uri string) error {
	_, err := ParseMailto(uri)
	return err
}

// notify is RFC 5435 section 3 for the mailto method (RFC 5436).
func (r *run) notify(n *node) error {
	if err := r.rejectConflict("notify"); err != nil {
		return err
	}
	nt := Notify{Method: r.expand(n.args[0].Strs[0]), Importance: "2"}
	if err := checkNotifyMethod(nt.Method); err != nil {
		return r.errorf("notify: %v", err)
	}
	if a, ok := n.tag("from"); ok {
		nt.From = r.expand(a.Strs[0])
		if _, err := parseAddress(nt.From); err != nil {
			return r.errorf("notify :from: invalid address %q", nt.From)
		}
	}
	if a, ok := n.tag("importance"); ok {
		nt.Importance = r.expand(a.Strs[0])
	}
	if a, ok := n.tag("options"); ok {
		nt.Options = r.expandList(a.Strs)
	}
	if a, ok := n.tag("message"); ok {
		nt.Message = r.expand(a.Strs[0])
	} else {
		from, subject := "", ""
		if v := headerValues(r.header, "from"); len(v) > 0 {
			from = v[0]
		}
		if v := headerValues(r.header, "subject"); len(v) > 0 {
			subject = v[0]
		}
		nt.Message = from + ": " + subject
	}
	// RFC 5436 section 2.7: no notification about automatic messages.
	for _, v := range headerValues(r.header, "auto-submitted") {
		if !strings.EqualFold(strings.TrimSpace(strings.SplitN(v, ";", 2)[0]), "no") {
			r.res.Log = append(r.res.Log, fmt.Sprintf("%s: notify: not sent: message is Auto-Submitted", n.pos))
			return nil
		}
	}
	for _, a := range r.res.Actions {
		if old, ok := a.(Notify); ok && old.Method == nt.Method {
			return nil
		}
	}
	return r.addAction(nt)
}

// notifyCapability is RFC 5435 section 5: mailto's "online" capability
// is always "maybe".
func (r *run) notifyCapability(n *node) (bool, error) {
	method := r.expand(n.args[0].Strs[0])
	capa := strings.ToLower(r.expand(n.args[1].Strs[0]))
	if checkNotifyMethod(method) != nil || capa != "online" {
		return false, nil
	}
	return r.match(n.match, []string{"maybe"}, r.expandList(n.args[2].Strs))
}

// scoreTest is spamtest and virustest (RFC 5235 sections 3.1 and 3.2).
// "0" means not tested; spamtest goes from 1 (not spam) to 10, or 0 to
// 100 with :percent; virustest from 1 (clean) to 5.
func (r *run) scoreTest(n *node) (bool, error) {
	cfg := r.env.ScoreTest(n.def.name)
	value := "0"
	if cfg.Header != "" {
		if vals := headerValues(r.header, cfg.Header); len(vals) > 0 {
			v, ok, err := scoreValue(cfg, vals[0], n.def.name == "virustest", n.hasTag("percent"))
			if err != nil {
				return false, r.errorf("%s: %v", n.def.name, err)
			}
			if ok {
				value = v
			}
		}
	}
	return r.match(n.match, []string{value}, []string{r.expand(n.args[0].Strs[0])})
}

func scoreValue(cfg ScoreTest, field string, virus, percent bool) (string, bool, error) {
	if cfg.Pattern != "" {
		re, err := regexp.Compile(cfg.Pattern)
		if err != nil {
			return "", false, fmt.Errorf("bad configured pattern: %w", err)
		}
		m := re.FindStringSubmatch(field)
		if m == nil {
			return "", false, nil
		}
		if len(m) > 1 {
			field = m[1]
		} else {
			field = m[0]
		}
	}
	field = strings.TrimSpace(field)
	var score float64
	switch cfg.Type {
	case "text":
		v, ok := cfg.Text[field]
		return v, ok, nil
	case "strlen":
		score = float64(len(field))
	default:
		f, err := strconv.ParseFloat(field, 64)
		if err != nil {
			return "", false, nil
		}
		score = f
	}
	maxv := cfg.Max
	if maxv <= 0 {
		maxv = 10
	}
	ratio := math.Min(math.Max(score/maxv, 0), 1)
	switch {
	case percent:
		return strconv.Itoa(int(math.Round(ratio * 100))), true, nil
	case virus:
		return strconv.Itoa(1 + int(math.Round(ratio*4))), true, nil
	}
	return strconv.Itoa(1 + int(math.Round(ratio*9))), true, nil
}
