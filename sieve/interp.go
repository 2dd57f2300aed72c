package sieve

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"regexp"
	"strings"
)

// ErrLimit is wrapped by the RuntimeError of a run stopped by a limit.
var ErrLimit = errors.New("sieve limit exceeded")

// RuntimeError is an error that stopped a script while it ran. The
// delivery then falls back to keeping the message (RFC 5228 section
// 2.10.6) and records the error where the user can read it.
type RuntimeError struct {
	Script string
	Pos    Pos
	Msg    string
	Err    error // ErrLimit, a context error, or an Env error
}

func (e *RuntimeError) Error() string {
	where := e.Pos.String()
	if e.Script != "" {
		where = e.Script + ":" + where
	}
	return fmt.Sprintf("%s: runtime error: %s", where, e.Msg)
}

func (e *RuntimeError) Unwrap() error { return e.Err }

type flow int

const (
	flowNext flow = iota
	flowReturn
	flowStop
)

// run is the state of one Script.Run.
type run struct {
	ctx      context.Context
	env      Env
	envelope Envelope
	msg      Message
	limits   Limits
	steps    int
	fr       *frame
	globals  map[string]string
	flags    []string // imap4flags' internal variable (RFC 5232 section 3)
	header   []HeaderField
	changed  bool
	patterns map[string]*regexp.Regexp
	once     map[*Script]bool
	depth    int
	res      Result
	keep     bool // the implicit keep is in force
	explicit bool // an explicit keep is among the actions
	vacation bool
	reject   bool
	body     *bodyCache
	pos      Pos // of the node running, for errors
}

// Run runs the script against one delivery. A nil error means the Result
// holds the actions to carry out; an error (a *RuntimeError) means the
// delivery should keep the message and record why.
func (s *Script) Run(ctx context.Context, env Env) (*Result, error) {
	ctx, cancel := context.WithTimeout(ctx, s.limits.MaxTime)
	defer cancel()
	msg := env.Message()
	r := &run{
		ctx: ctx, env: env, envelope: env.Envelope(), msg: msg, limits: s.limits,
		globals: make(map[string]string), patterns: make(map[string]*regexp.Regexp),
		once: make(map[*Script]bool), keep: true,
	}
	r.header = append([]HeaderField(nil), msg.Header()...)
	if _, err := r.runScript(s); err != nil {
		var re *RuntimeError
		if errors.As(err, &re) && re.Script == "" {
			re.Script = s.name
		}
		return nil, err
	}
	return r.finish(), nil
}

func (r *run) runScript(s *Script) (flow, error) {
	saved := r.fr
	r.fr = &frame{script: s, vars: make(map[string]string), globals: make(map[string]bool)}
	defer func() { r.fr = saved }()
	f, err := r.block(s.cmds)
	if err != nil {
		var re *RuntimeError
		if errors.As(err, &re) && re.Script == "" && s != nil {
			re.Script = s.name
		}
	}
	return f, err
}

// step counts one unit of work against MaxSteps and checks the deadline.
func (r *run) step() error {
	r.steps++
	if r.steps > r.limits.MaxSteps {
		return r.limitErr("script ran too long (more than %d steps)", r.limits.MaxSteps)
	}
	if r.steps&255 == 0 {
		if err := r.ctx.Err(); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return &RuntimeError{Pos: r.pos, Msg: fmt.Sprintf("script ran too long (time limit %s)", r.limits.MaxTime), Err: errors.Join(ErrLimit, err)}
			}
			return &RuntimeError{Pos: r.pos, Msg: "stopped: " + err.Error(), Err: err}
		}
	}
	return nil
}

func (r *run) limitErr(format string, args ...any) error {
	return &RuntimeError{Pos: r.pos, Msg: fmt.Sprintf(format, args...), Err: ErrLimit}
}

func (r *run) errorf(format string, args ...any) error {
	return &RuntimeError{Pos: r.pos, Msg: fmt.Sprintf(format, args...)}
}

func (r *run) block(cmds []*node) (flow, error) {
	for _, n := range cmds {
		f, err := r.command(n)
		if err != nil || f != flowNext {
			return f, err
		}
	}
	return flowNext, nil
}

func (r *run) command(n *node) (flow, error) {
	if err := r.step(); err != nil {
		return flowStop, err
	}
	r.pos = n.pos
	switch n.def.name {
	case "if":
		if !n.skip {
			ok, err := r.test(n.tests[0])
			if err != nil {
				return flowStop, err
			}
			if ok {
				return r.block(n.block)
			}
		}
		for _, e := range n.elses {
			r.pos = e.pos
			if e.def.name == "elsif" {
				if e.skip {
					continue
				}
				ok, err := r.test(e.tests[0])
				if err != nil {
					return flowStop, err
				}
				if !ok {
					continue
				}
			}
			return r.block(e.block)
		}
		return flowNext, nil
	case "stop":
		return flowStop, nil
	case "return":
		return flowReturn, nil
	case "include":
		return r.include(n)
	case "global":
		for _, v := range n.args[0].Strs {
			r.fr.globals[strings.ToLower(v)] = true
		}
		return flowNext, nil
	case "set":
		v := applyModifiers(n, r.expand(n.args[1].Strs[0]))
		return flowNext, r.setVar(n.args[0].Strs[0], v)
	case "error":
		return flowStop, r.errorf("script error: %s", r.expand(n.args[0].Strs[0]))
	case "setflag", "addflag", "removeflag":
		return flowNext, r.flagCommand(n)
	case "addheader":
		return flowNext, r.addHeader(n)
	case "deleteheader":
		return flowNext, r.deleteHeader(n)
	}
	return flowNext, r.actionCommand(n)
}

func (r *run) include(n *node) (flow, error) {
	s := n.inc
	if s == nil {
		return flowNext, nil // :optional and missing
	}
	if n.hasTag("once") {
		if r.once[s] {
			return flowNext, nil
		}
		r.once[s] = true
	}
	if r.depth >= r.limits.MaxIncludeDepth {
		return flowStop, r.limitErr("includes nested too deeply (limit %d)", r.limits.MaxIncludeDepth)
	}
	r.depth++
	f, err := r.runScript(s)
	r.depth--
	if f == flowReturn {
		f = flowNext
	}
	return f, err
}

// flagCommand runs setflag, addflag and removeflag (RFC 5232 section 3).
func (r *run) flagCommand(n *node) error {
	list := parseFlags(r.expandList(n.args[1].Strs))
	var cur []string
	if n.args[0] != nil {
		cur = parseFlags([]string{r.getVar(r.expand(n.args[0].Strs[0]))})
	} else {
		cur = r.flags
	}
	switch n.def.name {
	case "setflag":
		cur = list
	case "addflag":
		cur = parseFlags(append(append([]string(nil), cur...), list...))
	case "removeflag":
		var keep []string
		for _, f := range cur {
			if !containsFold(list, f) {
				keep = append(keep, f)
			}
		}
		cur = keep
	}
	if n.args[0] != nil {
		return r.setVar(n.args[0].Strs[0], strings.Join(cur, " "))
	}
	r.flags = cur
	return nil
}

// parseFlags splits space-separated flag lists and drops duplicates,
// comparing case-insensitively as IMAP does.
func parseFlags(list []string) []string {
	out := []string{}
	for _, s := range list {
		for _, f := range strings.Fields(s) {
			if !containsFold(out, f) {
				out = append(out, f)
			}
		}
	}
	return out
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// protectedHeader lists the fields editheader may not touch (RFC 5293
// section 6 lets implementations protect fields; Pigeonhole protects
// these).
func protectedHeader(name string) bool {
	return strings.EqualFold(name, "received") || strings.EqualFold(name, "auto-submitted")
}

// addHeader is RFC 5293 section 4.
func (r *run) addHeader(n *node) error {
	name := r.expand(n.args[0].Strs[0])
	value := r.expand(n.args[1].Strs[0])
	if !validHeaderName(name) {
		return r.errorf("addheader: invalid header name %q", name)
	}
	if protectedHeader(name) {
		r.res.Log = append(r.res.Log, fmt.Sprintf("%s: addheader %s ignored: protected field", n.pos, name))
		return nil
	}
	if !isASCII(value) {
		value = mime.QEncoding.Encode("utf-8", value)
	}
	value = strings.ReplaceAll(strings.ReplaceAll(value, "\r", ""), "\n", " ")
	f := HeaderField{Name: name, Value: value}
	if n.hasTag("last") {
		r.header = append(r.header, f)
	} else {
		r.header = append([]HeaderField{f}, r.header...)
	}
	r.changed = true
	return nil
}

// deleteHeader is RFC 5293 section 5.
func (r *run) deleteHeader(n *node) error {
	name := r.expand(n.args[0].Strs[0])
	if protectedHeader(name) {
		r.res.Log = append(r.res.Log, fmt.Sprintf("%s: deleteheader %s ignored: protected field", n.pos, name))
		return nil
	}
	var positions []int
	for i, f := range r.header {
		if strings.EqualFold(f.Name, name) {
			positions = append(positions, i)
		}
	}
	if a, ok := n.tag("index"); ok {
		idx := int(a.Num) - 1
		if n.hasTag("last") {
			idx = len(positions) - int(a.Num)
		}
		if idx < 0 || idx >= len(positions) {
			return nil
		}
		positions = positions[idx : idx+1]
	}
	var patterns []string
	if n.args[1] != nil {
		patterns = r.expandList(n.args[1].Strs)
	}
	del := make(map[int]bool)
	for _, i := range positions {
		if patterns != nil {
			ok, err := r.match(n.match, []string{decodeHeaderValue(r.header[i].Value)}, patterns)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
		}
		del[i] = true
	}
	if len(del) == 0 {
		return nil
	}
	out := r.header[:0:0]
	for i, f := range r.header {
		if !del[i] {
			out = append(out, f)
		}
	}
	r.header = out
	r.changed = true
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
