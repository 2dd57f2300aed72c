package master

import (
	"strconv"
	"time"
)

// strftime formats t by a log_timestamp format, the subset of strftime(3)
// Dovecot's configurations use: %Y %y %m %d %e %H %M %S %b %B %a %A %j %p
// %T %F %z %Z %s, %f (microseconds) and %%. Other conversions are copied
// as written.
func strftime(format string, t time.Time) string {
	b := make([]byte, 0, len(format)+16)
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 == len(format) {
			b = append(b, c)
			continue
		}
		i++
		switch format[i] {
		case 'Y':
			b = strconv.AppendInt(b, int64(t.Year()), 10)
		case 'y':
			b = pad2(b, t.Year()%100)
		case 'm':
			b = pad2(b, int(t.Month()))
		case 'd':
			b = pad2(b, t.Day())
		case 'e':
			if t.Day() < 10 {
				b = append(b, ' ')
			}
			b = strconv.AppendInt(b, int64(t.Day()), 10)
		case 'H':
			b = pad2(b, t.Hour())
		case 'M':
			b = pad2(b, t.Minute())
		case 'S':
			b = pad2(b, t.Second())
		case 'b', 'h':
			b = append(b, t.Month().String()[:3]...)
		case 'B':
			b = append(b, t.Month().String()...)
		case 'a':
			b = append(b, t.Weekday().String()[:3]...)
		case 'A':
			b = append(b, t.Weekday().String()...)
		case 'j':
			b = t.AppendFormat(b, "002")
		case 'p':
			b = t.AppendFormat(b, "PM")
		case 'T':
			b = t.AppendFormat(b, "15:04:05")
		case 'F':
			b = t.AppendFormat(b, "2006-01-02")
		case 'z':
			b = t.AppendFormat(b, "-0700")
		case 'Z':
			b = t.AppendFormat(b, "MST")
		case 's':
			b = strconv.AppendInt(b, t.Unix(), 10)
		case 'f':
			us := strconv.Itoa(t.Nanosecond()/1000 + 1000000)
			b = append(b, us[1:]...)
		case '%':
			b = append(b, '%')
		default:
			b = append(b, '%', format[i])
		}
	}
	return string(b)
}

func pad2(b []byte, n int) []byte {
	return append(b, byte('0'+n/10%10), byte('0'+n%10))
}
