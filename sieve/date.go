package sieve

import (
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"
)

func validDatePart(p string) bool {
	switch p {
	case "year", "month", "day", "date", "julian", "hour", "minute", "second",
		"time", "iso8601", "std11", "zone", "weekday":
		return true
	}
	return false
}

// parseZone reads a "+hhmm" or "-hhmm" zone (RFC 5260 section 4.1).
func parseZone(z string) (*time.Location, bool) {
	if len(z) != 5 || (z[0] != '+' && z[0] != '-') {
		return nil, false
	}
	h, err1 := strconv.Atoi(z[1:3])
	m, err2 := strconv.Atoi(z[3:5])
	if err1 != nil || err2 != nil || h > 23 || m > 59 {
		return nil, false
	}
	off := h*3600 + m*60
	if z[0] == '-' {
		off = -off
	}
	return time.FixedZone(z, off), true
}

// datePart renders one date part (RFC 5260 section 4.2).
func datePart(t time.Time, part string) string {
	switch part {
	case "year":
		return fmt.Sprintf("%04d", t.Year())
	case "month":
		return fmt.Sprintf("%02d", int(t.Month()))
	case "day":
		return fmt.Sprintf("%02d", t.Day())
	case "date":
		return t.Format("2006-01-02")
	case "julian":
		// Modified Julian Day: days since 1858-11-17 in t's own calendar.
		day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		epoch := time.Date(1858, 11, 17, 0, 0, 0, 0, time.UTC)
		return strconv.Itoa(int(day.Sub(epoch).Hours() / 24))
	case "hour":
		return fmt.Sprintf("%02d", t.Hour())
	case "minute":
		return fmt.Sprintf("%02d", t.Minute())
	case "second":
		return fmt.Sprintf("%02d", t.Second())
	case "time":
		return t.Format("15:04:05")
	case "iso8601":
		return t.Format("2006-01-02T15:04:05-07:00")
	case "std11":
		return t.Format("Mon, 02 Jan 2006 15:04:05 -0700")
	case "zone":
		return t.Format("-0700")
	case "weekday":
		return strconv.Itoa(int(t.Weekday()))
	}
	return ""
}

// parseMessageDate reads a date field. For Received, the date follows the
// last ";" (RFC 5260 section 5).
func parseMessageDate(v string) (time.Time, bool) {
	if i := strings.LastIndexByte(v, ';'); i >= 0 {
		v = v[i+1:]
	}
	t, err := mail.ParseDate(strings.TrimSpace(v))
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// dateTest is RFC 5260 sections 4 and 5.
func (r *run) dateTest(n *node) (bool, error) {
	loc := r.env.Now().Location()
	if a, ok := n.tag("zone"); ok {
		z := r.expand(a.Strs[0])
		l, ok := parseZone(z)
		if !ok {
			return false, r.errorf("invalid time zone %q", z)
		}
		loc = l
	}
	var times []time.Time
	var partArg, keys *Arg
	if n.def.name == "currentdate" {
		times = []time.Time{r.env.Now().In(loc)}
		partArg, keys = n.args[0], n.args[1]
	} else {
		partArg, keys = n.args[1], n.args[2]
		name := r.expand(n.args[0].Strs[0])
		for _, v := range indexed(n, headerValues(r.header, name)) {
			t, ok := parseMessageDate(v)
			if !ok {
				continue
			}
			if !n.hasTag("originalzone") {
				t = t.In(loc)
			}
			times = append(times, t)
		}
	}
	part := strings.ToLower(r.expand(partArg.Strs[0]))
	if !validDatePart(part) {
		return false, r.errorf("unknown date part %q", part)
	}
	values := make([]string, len(times))
	for i, t := range times {
		values[i] = datePart(t, part)
	}
	return r.match(n.match, values, r.expandList(keys.Strs))
}
