package sieve

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Location says where an included script lives (RFC 6609 section 3.2).
type Location int

const (
	Personal Location = iota // the user's own scripts
	Global                   // the administrator's scripts
)

func (l Location) String() string {
	if l == Global {
		return "global"
	}
	return "personal"
}

// ErrScriptNotFound is what an IncludeResolver returns (wrapped) for a
// script that does not exist; "include :optional" skips such a script.
var ErrScriptNotFound = errors.New("script not found")

// IncludeResolver finds the source of an included script.
type IncludeResolver interface {
	ResolveInclude(loc Location, name string) ([]byte, error)
}

// Limits bound what a script may do. Zero fields take the defaults
// (Pigeonhole's where it has one).
type Limits struct {
	MaxScriptSize   int           // bytes of source per script; 1 MiB
	MaxActions      int           // actions in a result; 32
	MaxRedirects    int           // redirect actions; 4
	MaxIncludeDepth int           // nested includes; 10
	MaxIncludes     int           // distinct included scripts; 255
	MaxSteps        int           // commands, tests and comparisons run; 1,000,000
	MaxTime         time.Duration // wall time of one run; 30s
	MaxVariableSize int           // bytes in one variable (longer values are cut); 4096
	MaxVariables    int           // variables in one scope; 255
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxScriptSize, 1<<20)
	def(&l.MaxActions, 32)
	def(&l.MaxRedirects, 4)
	def(&l.MaxIncludeDepth, 10)
	def(&l.MaxIncludes, 255)
	def(&l.MaxSteps, 1000000)
	def(&l.MaxVariableSize, 4096)
	def(&l.MaxVariables, 255)
	if l.MaxTime <= 0 {
		l.MaxTime = 30 * time.Second
	}
	return l
}

// CompileOptions are the administrator's settings a script compiles with.
type CompileOptions struct {
	Extensions ExtensionSet    // nil means DefaultExtensions()
	Include    IncludeResolver // nil makes every include fail
	Name       string          // the script's name, for errors
	Location   Location        // where the main script lives, for :personal/:global
	Limits     Limits
}

// Script is a compiled script, safe for concurrent Runs.
type Script struct {
	name     string
	loc      Location
	cmds     []*node
	required map[string]bool
	exts     ExtensionSet
	limits   Limits
	includes []string // every included script, as "location:name", in order
}

// Name returns the name the script was compiled with.
func (s *Script) Name() string { return s.name }

// Includes lists the scripts the script includes, directly or not, as
// "personal:NAME" or "global:NAME".
func (s *Script) Includes() []string { return s.includes }

// node is a checked command or test.
type node struct {
	def   *cmdDef
	pos   Pos
	tags  map[string]Arg
	args  []*Arg // aligned with def.args; nil where an optional one is absent
	tests []*node
	block []*node
	elses []*node // for "if": its elsif and else branches, in order
	inc   *Script // for "include": the compiled script, nil when optional and missing
	skip  bool    // an ihave block whose extensions are not available
	match matchSpec
	owner *Script
}

func (n *node) tag(name string) (Arg, bool) {
	a, ok := n.tags[name]
	return a, ok
}

func (n *node) hasTag(name string) bool { _, ok := n.tags[name]; return ok }

type compiler struct {
	opts  CompileOptions
	exts  ExtensionSet
	stack []string
	done  map[string]*Script
	order []string
}

// Compile checks a script and prepares it to run.
func Compile(src []byte, opts CompileOptions) (*Script, error) {
	opts.Limits = opts.Limits.withDefaults()
	if opts.Extensions == nil {
		opts.Extensions = DefaultExtensions()
	}
	c := &compiler{opts: opts, exts: opts.Extensions, done: make(map[string]*Script)}
	s, err := c.script(opts.Name, opts.Location, src)
	if err != nil {
		return nil, err
	}
	s.includes = c.order
	return s, nil
}

func (c *compiler) script(name string, loc Location, src []byte) (*Script, error) {
	if len(src) > c.opts.Limits.MaxScriptSize {
		return nil, &Error{Script: name, Pos: Pos{1, 1}, Msg: fmt.Sprintf("script too large (%d bytes, limit %d)", len(src), c.opts.Limits.MaxScriptSize)}
	}
	cmds, err := Parse(src)
	if err != nil {
		var se *Error
		if errors.As(err, &se) {
			se.Script = name
		}
		return nil, err
	}
	s := &Script{name: name, loc: loc, required: make(map[string]bool), exts: c.exts, limits: c.opts.Limits}
	sc := &scriptCompiler{c: c, s: s, avail: make(map[string]bool)}
	// RFC 5228 section 3.2: require comes before any other command.
	i := 0
	for ; i < len(cmds) && cmds[i].Name == "require"; i++ {
		if err := sc.require(cmds[i]); err != nil {
			return nil, err
		}
	}
	if sc.s.required["encoded-character"] {
		for _, cmd := range cmds[i:] {
			if err := sc.decodeCommand(cmd); err != nil {
				return nil, err
			}
		}
	}
	s.cmds, err = sc.commands(cmds[i:])
	if err != nil {
		return nil, err
	}
	return s, nil
}

type scriptCompiler struct {
	c     *compiler
	s     *Script
	avail map[string]bool // extensions made usable by an enclosing ihave
}

func (sc *scriptCompiler) errorf(p Pos, format string, args ...any) error {
	return &Error{Script: sc.s.name, Pos: p, Msg: fmt.Sprintf(format, args...)}
}

func (sc *scriptCompiler) enabled(ext string) bool {
	if ext == "" || ext == "comparator-i;octet" || ext == "comparator-i;ascii-casemap" {
		return true
	}
	if sc.s.required[ext] || sc.avail[ext] {
		return true
	}
	return ext == "vacation" && (sc.s.required["vacation-seconds"] || sc.avail["vacation-seconds"])
}

func (sc *scriptCompiler) require(cmd *Command) error {
	if len(cmd.Args) != 1 || cmd.Args[0].Kind != ArgStringList || cmd.Tests != nil || cmd.HasBlock {
		return sc.errorf(cmd.Pos, "require takes one string list")
	}
	for _, e := range cmd.Args[0].Strs {
		name := strings.ToLower(e)
		if !sc.c.exts.has(name) {
			return sc.errorf(cmd.Args[0].Pos, "unsupported extension %q", e)
		}
		sc.s.required[name] = true
	}
	return nil
}

func (sc *scriptCompiler) commands(cmds []*Command) ([]*node, error) {
	var out []*node
	for i, cmd := range cmds {
		if cmd.Name == "require" {
			return nil, sc.errorf(cmd.Pos, "require must come before any other command")
		}
		if cmd.Name == "elsif" || cmd.Name == "else" {
			prev := ""
			if i > 0 {
				prev = cmds[i-1].Name
			}
			if prev != "if" && prev != "elsif" {
				return nil, sc.errorf(cmd.Pos, "%s without a preceding if", cmd.Name)
			}
			n, err := sc.command(cmd)
			if err != nil {
				return nil, err
			}
			head := out[len(out)-1]
			head.elses = append(head.elses, n)
			continue
		}
		n, err := sc.command(cmd)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func (sc *scriptCompiler) command(cmd *Command) (*node, error) {
	def := lookupDef(cmd.Name, false)
	if def == nil {
		if lookupDef(cmd.Name, true) != nil {
			return nil, sc.errorf(cmd.Pos, "%s is a test, not a command", cmd.Name)
		}
		return nil, sc.errorf(cmd.Pos, "unknown command %s", cmd.Name)
	}
	if err := sc.checkExt(def, cmd.Pos); err != nil {
		return nil, err
	}
	n, err := sc.node(def, cmd.Pos, cmd.Args, cmd.Tests)
	if err != nil {
		return nil, err
	}
	if def.block != cmd.HasBlock {
		if def.block {
			return nil, sc.errorf(cmd.Pos, "%s needs a block", cmd.Name)
		}
		return nil, sc.errorf(cmd.Pos, "%s takes no block", cmd.Name)
	}
	if def.block {
		// RFC 5463 section 4: a block guarded by ihave may use the named
		// extensions; when they are missing it is not checked and never runs.
		exts, guarded := ihaveGuard(n)
		saved := sc.avail
		if guarded {
			if !sc.allAvailable(exts) {
				n.skip = true
				return n, nil
			}
			sc.avail = make(map[string]bool, len(saved)+len(exts))
			for k := range saved {
				sc.avail[k] = true
			}
			for _, e := range exts {
				sc.avail[e] = true
			}
		}
		n.block, err = sc.commands(cmd.Block)
		sc.avail = saved
		if err != nil {
			return nil, err
		}
	}
	if err := sc.checkCommand(n); err != nil {
		return nil, err
	}
	return n, nil
}

// ihaveGuard returns the extensions named by an ihave that is the test of
// n, alone or within allof.
func ihaveGuard(n *node) ([]string, bool) {
	if len(n.tests) != 1 {
		return nil, false
	}
	t := n.tests[0]
	var exts []string
	found := false
	collect := func(t *node) {
		if t.def.name == "ihave" {
			found = true
			for _, e := range t.args[0].Strs {
				exts = append(exts, strings.ToLower(e))
			}
		}
	}
	if t.def.name == "allof" {
		for _, sub := range t.tests {
			collect(sub)
		}
	} else {
		collect(t)
	}
	return exts, found
}

func (sc *scriptCompiler) allAvailable(exts []string) bool {
	for _, e := range exts {
		if !sc.c.exts.has(e) {
			return false
		}
	}
	return true
}

func (sc *scriptCompiler) checkExt(def *cmdDef, p Pos) error {
	if len(def.ext) == 0 {
		return nil
	}
	for _, e := range def.ext {
		if sc.enabled(e) {
			return nil
		}
	}
	kind := "command"
	if def.test {
		kind = "test"
	}
	return sc.errorf(p, "%s %s needs require %q", kind, def.name, def.ext[0])
}

func (sc *scriptCompiler) test(t *Test) (*node, error) {
	def := lookupDef(t.Name, true)
	if def == nil {
		if lookupDef(t.Name, false) != nil {
			return nil, sc.errorf(t.Pos, "%s is a command, not a test", t.Name)
		}
		return nil, sc.errorf(t.Pos, "unknown test %s", t.Name)
	}
	if err := sc.checkExt(def, t.Pos); err != nil {
		return nil, err
	}
	n, err := sc.node(def, t.Pos, t.Args, t.Tests)
	if err != nil {
		return nil, err
	}
	if err := sc.checkTest(n); err != nil {
		return nil, err
	}
	return n, nil
}

// node checks the tagged and positional arguments and the tests of a
// command or test against its definition.
func (sc *scriptCompiler) node(def *cmdDef, p Pos, args []Arg, tests []*Test) (*node, error) {
	n := &node{def: def, pos: p, tags: make(map[string]Arg), owner: sc.s}
	groups := make(map[string]string)
	var pos []*Arg
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a.Kind != ArgTag {
			arg := a
			pos = append(pos, &arg)
			continue
		}
		if len(pos) > 0 {
			return nil, sc.errorf(a.Pos, "tag :%s after positional arguments of %s", a.Tag, def.name)
		}
		td := findTag(def, a.Tag)
		if td == nil || !sc.enabled(td.ext) {
			if td != nil {
				return nil, sc.errorf(a.Pos, "tag :%s of %s needs require %q", a.Tag, def.name, td.ext)
			}
			return nil, sc.errorf(a.Pos, "unknown tag :%s for %s", a.Tag, def.name)
		}
		if _, dup := n.tags[td.name]; dup {
			return nil, sc.errorf(a.Pos, "tag :%s given twice", a.Tag)
		}
		if td.group != "" {
			if other, ok := groups[td.group]; ok {
				return nil, sc.errorf(a.Pos, "tags :%s and :%s of %s exclude each other", other, td.name, def.name)
			}
			groups[td.group] = td.name
		}
		val := a
		if td.arg != vNone {
			if i+1 >= len(args) || args[i+1].Kind == ArgTag {
				return nil, sc.errorf(a.Pos, "tag :%s needs a %s argument", td.name, td.arg)
			}
			i++
			val = args[i]
			if err := sc.checkType(val, td.arg, ":"+td.name); err != nil {
				return nil, err
			}
		}
		n.tags[td.name] = val
	}
	if len(pos) < def.minArgs || len(pos) > len(def.args) {
		if def.minArgs == len(def.args) {
			return nil, sc.errorf(p, "%s takes %d positional argument(s), found %d", def.name, len(def.args), len(pos))
		}
		return nil, sc.errorf(p, "%s takes %d to %d positional arguments, found %d", def.name, def.minArgs, len(def.args), len(pos))
	}
	n.args = make([]*Arg, len(def.args))
	off := len(def.args) - len(pos)
	if def.optLast {
		off = 0
	}
	for i, a := range pos {
		if err := sc.checkType(*a, def.args[off+i], def.name); err != nil {
			return nil, err
		}
		n.args[off+i] = a
	}
	switch {
	case def.tests == 0 && len(tests) > 0:
		return nil, sc.errorf(tests[0].Pos, "%s takes no test", def.name)
	case def.tests == 1 && len(tests) != 1:
		return nil, sc.errorf(p, "%s needs one test", def.name)
	case def.tests == -1 && len(tests) == 0:
		return nil, sc.errorf(p, "%s needs a test list", def.name)
	}
	for _, t := range tests {
		tn, err := sc.test(t)
		if err != nil {
			return nil, err
		}
		n.tests = append(n.tests, tn)
	}
	return n, nil
}

func findTag(def *cmdDef, name string) *tagDef {
	for i := range def.tags {
		if def.tags[i].name == name {
			return &def.tags[i]
		}
	}
	return nil
}

func (sc *scriptCompiler) checkType(a Arg, want valType, what string) error {
	ok := false
	switch want {
	case vString:
		ok = a.Kind == ArgStringList && a.Single
	case vStringList:
		ok = a.Kind == ArgStringList
	case vNumber:
		ok = a.Kind == ArgNumber
	}
	if !ok {
		got := "string list"
		switch {
		case a.Kind == ArgNumber:
			got = "number"
		case a.Kind == ArgTag:
			got = "tag"
		case a.Single:
			got = "string"
		}
		return sc.errorf(a.Pos, "%s expects a %s, found a %s", what, want, got)
	}
	return nil
}
