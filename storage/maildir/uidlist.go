package maildir

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// uidlist is a dovecot-uidlist file (src/lib-storage/index/maildir/
// maildir-uidlist.c). Version 3:
//
//	3 V<uidvalidity> N<nextuid> G<guid>[ <other header fields>]
//	<uid>[ <key><value>]... :<base file name>
//
// Version 1 (Courier-compatible) is read only:
//
//	1 <uidvalidity> <nextuid>
//	<uid> <file name>
type uidlist struct {
	UIDValidity uint32
	NextUID     uint32
	GUID        string   // 32 hex digits, "" when unknown
	HeaderExt   []string // other header fields, kept verbatim
	Recs        []uidRec // ascending by UID
}

// uidRec is one message's line. Ext holds the extension fields (S, W, P,
// O, G, and any other key) verbatim and in order.
type uidRec struct {
	UID  uint32
	Ext  []string
	Base string
}

// ext returns the value of the extension key, or "".
func (r uidRec) ext(key byte) string {
	for _, e := range r.Ext {
		if e != "" && e[0] == key {
			return e[1:]
		}
	}
	return ""
}

var errUidlist = errors.New("malformed dovecot-uidlist")

const maxUidlistLine = 64 << 10

// parseUidlist reads a dovecot-uidlist. Records must ascend by UID. A
// last line without its newline is the trace of an append cut short by a
// crash (records are appended and fsynced before a save is acknowledged):
// it is ignored, as Dovecot does.
func parseUidlist(data []byte) (*uidlist, error) {
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 && i < len(data)-1 {
		data = data[:i+1]
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxUidlistLine)
	if !sc.Scan() {
		return nil, fmt.Errorf("%w: no header", errUidlist)
	}
	u := &uidlist{}
	hdr := strings.Fields(sc.Text())
	if len(hdr) == 0 {
		return nil, fmt.Errorf("%w: empty header", errUidlist)
	}
	version := hdr[0]
	switch version {
	case "1":
		if len(hdr) != 3 {
			return nil, fmt.Errorf("%w: bad version 1 header", errUidlist)
		}
		v, err1 := strconv.ParseUint(hdr[1], 10, 32)
		n, err2 := strconv.ParseUint(hdr[2], 10, 32)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%w: bad version 1 header", errUidlist)
		}
		u.UIDValidity, u.NextUID = uint32(v), uint32(n)
	case "3":
		for _, f := range hdr[1:] {
			var err error
			switch f[0] {
			case 'V':
				u.UIDValidity, err = parseU32(f[1:])
			case 'N':
				u.NextUID, err = parseU32(f[1:])
			case 'G':
				u.GUID = f[1:]
			default:
				u.HeaderExt = append(u.HeaderExt, f)
			}
			if err != nil {
				return nil, fmt.Errorf("%w: header field %q", errUidlist, f)
			}
		}
	default:
		return nil, fmt.Errorf("%w: unsupported version %q", errUidlist, version)
	}
	if u.UIDValidity == 0 || u.NextUID == 0 {
		return nil, fmt.Errorf("%w: zero UIDVALIDITY or next UID", errUidlist)
	}
	var last uint32
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		r, err := parseUidRec(line, version == "1")
		if err != nil {
			return nil, err
		}
		if r.UID <= last {
			return nil, fmt.Errorf("%w: UID %d not ascending", errUidlist, r.UID)
		}
		last = r.UID
		u.Recs = append(u.Recs, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", errUidlist, err)
	}
	if last >= u.NextUID {
		u.NextUID = last + 1
	}
	return u, nil
}

func parseU32(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err
}

func parseUidRec(line string, v1 bool) (uidRec, error) {
	var r uidRec
	uidStr, rest, ok := strings.Cut(line, " ")
	uid, err := parseU32(uidStr)
	if !ok || err != nil || uid == 0 {
		return r, fmt.Errorf("%w: bad line %q", errUidlist, line)
	}
	r.UID = uid
	if v1 {
		r.Base = baseName(strings.TrimSpace(rest))
	} else {
		i := strings.Index(rest, ":")
		if i < 0 {
			return r, fmt.Errorf("%w: no file name in %q", errUidlist, line)
		}
		r.Ext = strings.Fields(rest[:i])
		for _, e := range r.Ext {
			if e[0] < 'A' || e[0] > 'Z' {
				return r, fmt.Errorf("%w: bad extension %q", errUidlist, e)
			}
		}
		r.Base = rest[i+1:]
	}
	if r.Base == "" || strings.ContainsAny(r.Base, "/\x00") {
		return r, fmt.Errorf("%w: bad file name in %q", errUidlist, line)
	}
	return r, nil
}

// format writes the file in version 3, as Dovecot writes it.
func (u *uidlist) format() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "3 V%d N%d G%s", u.UIDValidity, u.NextUID, u.GUID)
	for _, e := range u.HeaderExt {
		b.WriteByte(' ')
		b.WriteString(e)
	}
	b.WriteByte('\n')
	for _, r := range u.Recs {
		b.Write(r.format())
	}
	return b.Bytes()
}

// format returns the record's line.
func (r uidRec) format() []byte {
	b := strconv.AppendUint(nil, uint64(r.UID), 10)
	for _, e := range r.Ext {
		b = append(b, ' ')
		b = append(b, e...)
	}
	b = append(b, " :"...)
	b = append(b, r.Base...)
	return append(b, '\n')
}
