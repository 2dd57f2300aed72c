package sieve

import "fmt"

// ArgKind says what an Arg holds.
type ArgKind int

const (
	ArgStringList ArgKind = iota // a string list, or a single string when Single
	ArgNumber
	ArgTag
)

// Arg is one argument of a command or test in the syntax tree
// (RFC 5228 section 8.2).
type Arg struct {
	Pos    Pos
	Kind   ArgKind
	Single bool     // a string written without brackets
	Strs   []string // ArgStringList
	Num    uint64   // ArgNumber
	Tag    string   // ArgTag, lowercased, without the colon
}

// Test is a test in the syntax tree.
type Test struct {
	Pos   Pos
	Name  string // lowercased
	Args  []Arg
	Tests []*Test
}

// Command is a command in the syntax tree.
type Command struct {
	Pos      Pos
	Name     string // lowercased
	Args     []Arg
	Tests    []*Test // the test or test list that ends the arguments
	HasBlock bool
	Block    []*Command
}

// Parse limits that keep a hostile script from exhausting the parser.
const (
	maxNesting    = 32 // blocks and tests, each
	maxListLength = 1024
)

type parser struct {
	lx    *lexer
	tok   token
	depth int
}

// Parse reads a script into its syntax tree. It checks only the grammar;
// Compile checks commands, arguments and extensions.
func Parse(src []byte) ([]*Command, error) {
	p := &parser{lx: newLexer(src)}
	p.tok = p.lx.next()
	cmds, err := p.commands(false)
	if err == nil && p.lx.err != nil {
		err = p.lx.err
	}
	if err != nil {
		return nil, err
	}
	return cmds, nil
}

func (p *parser) advance() { p.tok = p.lx.next() }

func (p *parser) errorf(pos Pos, format string, args ...any) error {
	if p.lx.err != nil {
		return p.lx.err
	}
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) unexpected(what string) error {
	return p.errorf(p.tok.pos, "expected %s, found %s", what, p.tok.kind)
}

func (p *parser) commands(inBlock bool) ([]*Command, error) {
	var cmds []*Command
	for {
		switch p.tok.kind {
		case tEOF:
			if inBlock {
				return nil, p.unexpected("'}'")
			}
			return cmds, nil
		case tRBrace:
			if !inBlock {
				return nil, p.errorf(p.tok.pos, "unexpected '}'")
			}
			return cmds, nil
		case tIdent:
			c, err := p.command()
			if err != nil {
				return nil, err
			}
			cmds = append(cmds, c)
		default:
			return nil, p.unexpected("a command")
		}
	}
}

func (p *parser) command() (*Command, error) {
	c := &Command{Pos: p.tok.pos, Name: p.tok.text}
	p.advance()
	args, tests, err := p.arguments()
	if err != nil {
		return nil, err
	}
	c.Args, c.Tests = args, tests
	switch p.tok.kind {
	case tSemi:
		p.advance()
	case tLBrace:
		if p.depth >= maxNesting {
			return nil, p.errorf(p.tok.pos, "blocks nested too deeply (limit %d)", maxNesting)
		}
		p.depth++
		p.advance()
		block, err := p.commands(true)
		if err != nil {
			return nil, err
		}
		p.depth--
		p.advance() // '}'
		c.HasBlock, c.Block = true, block
	default:
		return nil, p.unexpected("';' or '{' after " + c.Name)
	}
	return c, nil
}

// arguments reads *argument [test / test-list].
func (p *parser) arguments() ([]Arg, []*Test, error) {
	var args []Arg
	for {
		switch p.tok.kind {
		case tString:
			args = append(args, Arg{Pos: p.tok.pos, Kind: ArgStringList, Single: true, Strs: []string{p.tok.text}})
			p.advance()
		case tNumber:
			args = append(args, Arg{Pos: p.tok.pos, Kind: ArgNumber, Num: p.tok.num})
			p.advance()
		case tTag:
			args = append(args, Arg{Pos: p.tok.pos, Kind: ArgTag, Tag: p.tok.text})
			p.advance()
		case tLBracket:
			a, err := p.stringList()
			if err != nil {
				return nil, nil, err
			}
			args = append(args, a)
		case tIdent:
			t, err := p.test()
			if err != nil {
				return nil, nil, err
			}
			return args, []*Test{t}, nil
		case tLParen:
			tests, err := p.testList()
			if err != nil {
				return nil, nil, err
			}
			return args, tests, nil
		default:
			return args, nil, nil
		}
	}
}

func (p *parser) stringList() (Arg, error) {
	a := Arg{Pos: p.tok.pos, Kind: ArgStringList}
	p.advance()
	for {
		if p.tok.kind != tString {
			return a, p.unexpected("a string in the string list")
		}
		if len(a.Strs) >= maxListLength {
			return a, p.errorf(p.tok.pos, "string list too long (limit %d)", maxListLength)
		}
		a.Strs = append(a.Strs, p.tok.text)
		p.advance()
		switch p.tok.kind {
		case tComma:
			p.advance()
		case tRBracket:
			p.advance()
			return a, nil
		default:
			return a, p.unexpected("',' or ']' in the string list")
		}
	}
}

func (p *parser) test() (*Test, error) {
	if p.depth >= maxNesting {
		return nil, p.errorf(p.tok.pos, "tests nested too deeply (limit %d)", maxNesting)
	}
	p.depth++
	defer func() { p.depth-- }()
	t := &Test{Pos: p.tok.pos, Name: p.tok.text}
	p.advance()
	args, tests, err := p.arguments()
	if err != nil {
		return nil, err
	}
	t.Args, t.Tests = args, tests
	return t, nil
}

func (p *parser) testList() ([]*Test, error) {
	open := p.tok.pos
	p.advance()
	var tests []*Test
	for {
		if p.tok.kind != tIdent {
			return nil, p.unexpected("a test")
		}
		if len(tests) >= maxListLength {
			return nil, p.errorf(open, "test list too long (limit %d)", maxListLength)
		}
		t, err := p.test()
		if err != nil {
			return nil, err
		}
		tests = append(tests, t)
		switch p.tok.kind {
		case tComma:
			p.advance()
		case tRParen:
			p.advance()
			return tests, nil
		default:
			return nil, p.unexpected("',' or ')' in the test list")
		}
	}
}
