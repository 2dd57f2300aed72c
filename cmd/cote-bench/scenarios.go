package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// options are the knobs of every scenario.
type options struct {
	imapAddr, pop3Addr, lmtpAddr string
	userFmt, pass, domain        string
	users                        int // userFmt with 0 .. users-1
	srv                          server
	timeout                      time.Duration // dial, greeting, short commands
	opTimeout                    time.Duration // one FETCH, SEARCH or the RETR run

	loginClients  int
	loginDur      time.Duration
	loginCount    int
	lmtpSessions  int
	lmtpDur       time.Duration
	lmtpCount     int
	lmtpMulti     int // percent of messages with 2-3 recipients
	appendClients int
	appendDur     time.Duration
	appendCount   int
	fetchUsers    []string
	repeat        int
	searchText    string
	searchSubject string
	searchSettle  time.Duration // 0: no "settled" search
	pop3User      string
	pop3Count     int
	idleConns     int
	idlePerUser   int
	idleSettle    time.Duration
	idleName      string
	settle        time.Duration // longest wait for a quiet server before a scenario
	settleQuiet   time.Duration // how long it must have been quiet
}

func (o *options) user(i int) string {
	if strings.Contains(o.userFmt, "%") {
		return fmt.Sprintf(o.userFmt, i%max(o.users, 1))
	}
	return o.userFmt
}

// loop runs fn from workers goroutines until d has passed or count calls
// have been made (0: no count bound), and returns how many succeeded, how
// many failed, the time it took and the first error.
func loop(workers int, d time.Duration, count int, fn func(worker, i int) error) (ok, failed int, elapsed time.Duration, first error) {
	var (
		next, nok, nfail atomic.Int64
		mu               sync.Mutex // guards first
		wg               sync.WaitGroup
	)
	start := time.Now()
	stop := start.Add(d)
	for w := range workers {
		wg.Go(func() {
			for time.Now().Before(stop) {
				i := int(next.Add(1) - 1)
				if count > 0 && i >= count {
					return
				}
				if err := fn(w, i); err != nil {
					nfail.Add(1)
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					if nok.Load() == 0 && nfail.Load() >= int64(workers) {
						return // nothing works; do not spin
					}
					continue
				}
				nok.Add(1)
			}
		})
	}
	wg.Wait()
	return int(nok.Load()), int(nfail.Load()), time.Since(start), first
}

// unreachable is the result line of a scenario whose protocol does not
// answer.
func unreachable(scenario, proto, addr string, err error) []Result {
	return []Result{{Scenario: scenario, Metric: "-", Skipped: fmt.Sprintf("no %s answer at %s: %v", proto, addr, err)}}
}

// cpuPer returns the server CPU milliseconds per operation between two
// readings, as a result, when the server is known.
func (o *options) cpuPer(scenario, unit string, before time.Duration, n int) []Result {
	after, ok := o.srv.cpu()
	if !ok || n == 0 {
		return nil
	}
	used := after - before
	return []Result{{Scenario: scenario, Metric: "server CPU ms/" + unit, Value: ms(used) / float64(n), Better: lower,
		Detail: fmt.Sprintf("%.2f s CPU %s", used.Seconds(), o.srv.where())}}
}

func latencyResults(scenario string, l *latencies) []Result {
	s := l.sorted()
	return []Result{
		{Scenario: scenario, Metric: "p50 ms", Value: ms(percentile(s, 50)), Better: lower},
		{Scenario: scenario, Metric: "p99 ms", Value: ms(percentile(s, 99)), Better: lower},
	}
}

func errDetail(failed int, first error) string {
	if failed == 0 {
		return ""
	}
	return fmt.Sprintf("; %d failed, first: %v", failed, first)
}

// runLogin: N clients each connect, LOGIN, LOGOUT and disconnect in a loop.
func runLogin(o *options) []Result {
	const sc = "login"
	c, err := dialIMAP(o.imapAddr, o.timeout)
	if err != nil {
		return unreachable(sc, "IMAP", o.imapAddr, err)
	}
	c.Close()
	cycle := func(lat *latencies) func(_, i int) error {
		return func(_, i int) error {
			t := time.Now()
			c, err := dialIMAP(o.imapAddr, o.timeout)
			if err != nil {
				return err
			}
			defer c.Close()
			c.deadline(o.opTimeout)
			if err := c.login(o.user(i), o.pass); err != nil {
				return err
			}
			if err := c.logout(); err != nil {
				return err
			}
			lat.add(time.Since(t))
			return nil
		}
	}
	// The first login of each user, which may start processes for it, is
	// timed apart; the rate is then measured with every user seen once.
	var cold, lat latencies
	cok, cfailed, cel, cfirst := loop(o.loginClients, o.opTimeout, o.users, cycle(&cold))
	cpu0, _ := o.srv.cpu()
	ok, failed, el, first := loop(o.loginClients, o.loginDur, o.loginCount, cycle(&lat))
	res := []Result{{Scenario: sc, Metric: "logins/s", Value: rate(ok, el), Better: higher,
		Detail: fmt.Sprintf("%d clients, %d logins in %.1f s over %d users, each user logged in once before%s", o.loginClients, ok, el.Seconds(), o.users, errDetail(failed, first))}}
	res = append(res, latencyResults(sc, &lat)...)
	res = append(res, o.cpuPer(sc, "login", cpu0, ok)...)
	cs := cold.sorted()
	return append(res,
		Result{Scenario: sc, Metric: "first login of a user p50 ms", Value: ms(percentile(cs, 50)), Better: lower,
			Detail: fmt.Sprintf("%d first logins (%d clients) at %.0f/s%s", cok, o.loginClients, rate(cok, cel), errDetail(cfailed, cfirst))},
		Result{Scenario: sc, Metric: "first login of a user p99 ms", Value: ms(percentile(cs, 99)), Better: lower})
}

// runLMTP: K sessions deliver generated messages, some to several
// recipients.
func runLMTP(o *options) []Result {
	const sc = "lmtp"
	c, err := dialLMTP(o.lmtpAddr, o.timeout)
	if err != nil {
		return unreachable(sc, "LMTP", o.lmtpAddr, err)
	}
	c.Close()
	sessions := make([]*lmtpConn, o.lmtpSessions)
	defer func() {
		for _, s := range sessions {
			if s != nil {
				s.send("QUIT")
				s.Close()
			}
		}
	}()
	var lat latencies
	var rcpts, bytes atomic.Int64
	cpu0, _ := o.srv.cpu()
	ok, failed, el, first := loop(o.lmtpSessions, o.lmtpDur, o.lmtpCount, func(w, i int) error {
		if sessions[w] == nil {
			s, err := dialLMTP(o.lmtpAddr, o.timeout)
			if err != nil {
				return err
			}
			sessions[w] = s
		}
		s := sessions[w]
		n := 1
		if i%100 < o.lmtpMulti {
			n = 2 + i%2
		}
		to := make([]string, n)
		for j := range to {
			to[j] = o.user(i*7+j*13) + "@" + o.domain
		}
		msg := genMessage(i, to[0])
		t := time.Now()
		s.deadline(o.opTimeout)
		got, err := s.deliver(genFrom, to, msg)
		if err != nil {
			s.Close()
			sessions[w] = nil
			return err
		}
		lat.add(time.Since(t))
		rcpts.Add(int64(got))
		bytes.Add(int64(len(msg)))
		return nil
	})
	res := []Result{
		{Scenario: sc, Metric: "messages/s", Value: rate(ok, el), Better: higher,
			Detail: fmt.Sprintf("%d sessions, %d messages (%.0f KB average, %d%% to 2-3 recipients) in %.1f s%s",
				o.lmtpSessions, ok, float64(bytes.Load())/1024/float64(max(ok, 1)), o.lmtpMulti, el.Seconds(), errDetail(failed, first))},
		{Scenario: sc, Metric: "deliveries/s", Value: rate(int(rcpts.Load()), el), Better: higher, Detail: "one per recipient"},
	}
	res = append(res, latencyResults(sc, &lat)...)
	return append(res, o.cpuPer(sc, "message", cpu0, ok)...)
}

// runAppend: clients, each logged in as its own user, APPEND to INBOX.
func runAppend(o *options) []Result {
	const sc = "append"
	conns := make([]*imapConn, o.appendClients)
	for w := range conns {
		c, err := dialIMAP(o.imapAddr, o.timeout)
		if err == nil {
			c.deadline(o.timeout)
			err = c.login(o.user(w), o.pass)
			if err != nil {
				c.Close()
			}
		}
		if err != nil {
			for _, c := range conns[:w] {
				c.Close()
			}
			return unreachable(sc, "IMAP", o.imapAddr, err)
		}
		conns[w] = c
	}
	defer func() {
		for _, c := range conns {
			c.logout()
			c.Close()
		}
	}()
	var lat latencies
	cpu0, _ := o.srv.cpu()
	ok, failed, el, first := loop(o.appendClients, o.appendDur, o.appendCount, func(w, i int) error {
		msg := genMessage(1_000_000+i, o.user(w)+"@"+o.domain)
		t := time.Now()
		conns[w].deadline(o.opTimeout)
		if err := conns[w].append("INBOX", msg); err != nil {
			return err
		}
		lat.add(time.Since(t))
		return nil
	})
	res := []Result{{Scenario: sc, Metric: "messages/s", Value: rate(ok, el), Better: higher,
		Detail: fmt.Sprintf("%d clients, %d messages in %.1f s%s", o.appendClients, ok, el.Seconds(), errDetail(failed, first))}}
	res = append(res, latencyResults(sc, &lat)...)
	return append(res, o.cpuPer(sc, "message", cpu0, ok)...)
}

// sessionTimes are how long a session's LOGIN and SELECT took.
type sessionTimes struct{ login, sel time.Duration }

// session logs in as user and selects INBOX; it returns the connection,
// the EXISTS count and the times. LOGIN and SELECT each get opTimeout: a
// server may open or index the mailbox at either.
func (o *options) session(user string) (*imapConn, int, sessionTimes, error) {
	var st sessionTimes
	c, err := dialIMAP(o.imapAddr, o.timeout)
	if err != nil {
		return nil, 0, st, err
	}
	c.deadline(o.opTimeout)
	t := time.Now()
	if err := c.login(user, o.pass); err != nil {
		c.Close()
		return nil, 0, st, fmt.Errorf("LOGIN: %w", err)
	}
	st.login = time.Since(t)
	c.deadline(o.opTimeout)
	t = time.Now()
	n, err := c.selectBox("INBOX")
	if err != nil {
		c.Close()
		return nil, 0, st, err
	}
	st.sel = time.Since(t)
	return c, n, st, nil
}

// timeoutText says what went wrong, naming the bound d that a timeout hit.
func timeoutText(err error, d time.Duration) string {
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		cmd, _, _ := strings.Cut(err.Error(), ":")
		if strings.ToUpper(cmd) != cmd {
			cmd = "the server"
		}
		return fmt.Sprintf("%s: no answer within %s", cmd, d)
	}
	return err.Error()
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

const fetchItems = "(UID FLAGS ENVELOPE BODYSTRUCTURE RFC822.SIZE)"

// runFetch: for each big mailbox, SELECT and FETCH 1:* of envelopes and
// body structures, first and then repeated in new sessions.
func runFetch(o *options) []Result {
	var res []Result
	for _, user := range o.fetchUsers {
		sc := "fetch " + user
		var login, sel, fetch []time.Duration
		var bytes int64
		exists := 0
		var failed []Result
		start := time.Now()
		for r := range 1 + o.repeat {
			if r > 1 && time.Since(start) > o.opTimeout {
				break // bounded: fewer repetitions of a slow mailbox
			}
			c, n, st, err := o.session(user)
			if err != nil {
				failed = append(failed, Result{Scenario: sc, Metric: "-", Skipped: fmt.Sprintf("as %s: %s", user, timeoutText(err, o.opTimeout))})
				break
			}
			exists = n
			sc = fmt.Sprintf("fetch %s msgs", thousands(n))
			login, sel = append(login, st.login), append(sel, st.sel)
			t := time.Now()
			resp, err := c.cmd(nil, "FETCH 1:* %s", fetchItems)
			ft := time.Since(t)
			c.Close()
			name := "FETCH first s"
			if r > 0 {
				name = "FETCH repeated s"
			}
			if err != nil {
				failed = append(failed, Result{Scenario: sc, Metric: name, Skipped: fmt.Sprintf("round %d: %s", r+1, timeoutText(err, o.opTimeout))})
				break
			}
			if resp.lines < n {
				failed = append(failed, Result{Scenario: sc, Metric: name, Skipped: fmt.Sprintf("FETCH returned %d of %d messages", resp.lines, n)})
				break
			}
			fetch, bytes = append(fetch, ft), resp.bytes
		}
		if len(login) > 0 {
			detail := fmt.Sprintf("user %s, %d messages", user, exists)
			if len(fetch) > 0 {
				detail += fmt.Sprintf(", %.1f MB of FETCH response", float64(bytes)/1e6)
			}
			res = append(res,
				Result{Scenario: sc, Metric: "LOGIN first s", Value: login[0].Seconds(), Better: lower, Detail: detail},
				Result{Scenario: sc, Metric: "SELECT first s", Value: sel[0].Seconds(), Better: lower})
		}
		if len(fetch) > 0 {
			res = append(res, Result{Scenario: sc, Metric: "FETCH first s", Value: fetch[0].Seconds(), Better: lower, Detail: fetchItems})
		}
		res = append(res, failed...)
		if len(fetch) > 1 {
			d := fmt.Sprintf("median of %d new sessions", len(fetch)-1)
			res = append(res,
				Result{Scenario: sc, Metric: "LOGIN repeated s", Value: median(login[1:]).Seconds(), Better: lower, Detail: d},
				Result{Scenario: sc, Metric: "SELECT repeated s", Value: median(sel[1:]).Seconds(), Better: lower, Detail: d},
				Result{Scenario: sc, Metric: "FETCH repeated s", Value: median(fetch[1:]).Seconds(), Better: lower, Detail: d})
		}
	}
	return res
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return percentile(s, 50)
}

// runSearch: UID SEARCH TEXT for a rare word and SEARCH SUBJECT for a
// word in one subject in a hundred, first and repeated, on each big
// mailbox.
func runSearch(o *options) []Result {
	var res []Result
	for _, user := range o.fetchUsers {
		c, n, _, err := o.session(user)
		if err != nil {
			res = append(res, Result{Scenario: "search " + user, Metric: "-", Skipped: fmt.Sprintf("as %s: %s", user, timeoutText(err, o.opTimeout))})
			continue
		}
		sc := fmt.Sprintf("search %s msgs", thousands(n))
		for _, q := range []struct{ name, cmd string }{
			{"UID SEARCH TEXT", "UID SEARCH TEXT " + quote(o.searchText)},
			{"SEARCH SUBJECT", "SEARCH SUBJECT " + quote(o.searchSubject)},
		} {
			var times []time.Duration
			hits := 0
			start := time.Now()
			for r := range 1 + o.repeat {
				if r > 1 && time.Since(start) > o.opTimeout {
					break // bounded: fewer repetitions of a slow search
				}
				t := time.Now()
				_, err := c.cmd(func(l string) {
					if strings.HasPrefix(l, "* SEARCH") {
						hits = len(strings.Fields(l)) - 2
					}
				}, "%s", q.cmd)
				if err != nil {
					name := q.name + " first s"
					if r > 0 {
						name = q.name + " repeated s"
					}
					res = append(res, Result{Scenario: sc, Metric: name, Skipped: fmt.Sprintf("round %d: %s", r+1, timeoutText(err, o.opTimeout))})
					break
				}
				times = append(times, time.Since(t))
			}
			if len(times) == 0 {
				c.Close()
				c = nil
				break // the connection is in an unknown state
			}
			d := fmt.Sprintf("%s, %d hits", q.cmd, hits)
			res = append(res, Result{Scenario: sc, Metric: q.name + " first s", Value: times[0].Seconds(), Better: lower, Detail: d})
			if len(times) > 1 {
				res = append(res, Result{Scenario: sc, Metric: q.name + " repeated s", Value: median(times[1:]).Seconds(), Better: lower,
					Detail: fmt.Sprintf("median of %d, same session", len(times)-1)})
			}
		}
		if c != nil && o.searchSettle > 0 {
			res = append(res, o.settledSearch(c, sc))
		}
		if c != nil {
			c.logout()
			c.Close()
		}
	}
	return res
}

// settledSearch runs UID SEARCH TEXT once more in session c after the
// server's background work has ended: a server that indexes text in the
// background (cote) has then indexed the mailbox, as it has in a
// deployment where mail arrived over time; one that does not (Dovecot
// without an FTS plugin) answers as before. The session stays open
// meanwhile, so that the user's process stays.
func (o *options) settledSearch(c *imapConn, sc string) Result {
	name := "UID SEARCH TEXT settled s"
	if !o.srv.ok() {
		return Result{Scenario: sc, Metric: name, Skipped: "no server pid or cgroup given (-pid, -cgroup)"}
	}
	waited, used, quiet := o.waitQuiet(c)
	c.deadline(o.opTimeout)
	hits := 0
	t := time.Now()
	if _, err := c.cmd(func(l string) {
		if strings.HasPrefix(l, "* SEARCH") {
			hits = len(strings.Fields(l)) - 2
		}
	}, "UID SEARCH TEXT %s", quote(o.searchText)); err != nil {
		return Result{Scenario: sc, Metric: name, Skipped: timeoutText(err, o.opTimeout)}
	}
	d := time.Since(t)
	state := "quiet"
	if !quiet {
		state = "still busy"
	}
	return Result{Scenario: sc, Metric: name, Value: d.Seconds(), Better: lower,
		Detail: fmt.Sprintf("same session, %d hits, once the server's CPU was %s (under %v of CPU per %v; waited %v, %.1f s of server CPU meanwhile)",
			hits, state, quietCPU, quietWindow, waited.Round(time.Second), used.Seconds())}
}

// A server is quiet when its process tree used under quietCPU of CPU in
// the last quietWindow.
const (
	quietWindow = 5 * time.Second
	quietCPU    = 250 * time.Millisecond
)

// waitQuiet waits, at most searchSettle, until the server is quiet, with
// a NOOP in session c every quietWindow; it returns how long it waited,
// the server CPU used meanwhile and whether it became quiet.
func (o *options) waitQuiet(c *imapConn) (waited, used time.Duration, quiet bool) {
	start := time.Now()
	cpu0, _ := o.srv.cpu()
	last := cpu0
	for time.Since(start) < o.searchSettle {
		time.Sleep(quietWindow)
		c.deadline(o.timeout)
		c.cmd(nil, "NOOP")
		now, _ := o.srv.cpu()
		if now-last < quietCPU {
			return time.Since(start), now - cpu0, true
		}
		last = now
	}
	now, _ := o.srv.cpu()
	return time.Since(start), now - cpu0, false
}

// runPOP3: RETR of the first pop3Count messages of one user.
func runPOP3(o *options) []Result {
	const sc = "pop3"
	t0 := time.Now()
	c, err := dialPOP3(o.pop3Addr, o.timeout)
	if err != nil {
		return unreachable(sc, "POP3", o.pop3Addr, err)
	}
	defer c.Close()
	c.deadline(o.opTimeout)
	if _, err := c.cmd("USER %s", o.pop3User); err != nil {
		return []Result{{Scenario: sc, Metric: "-", Skipped: err.Error()}}
	}
	if _, err := c.cmd("PASS %s", o.pass); err != nil {
		return []Result{{Scenario: sc, Metric: "-", Skipped: err.Error()}}
	}
	stat, err := c.cmd("STAT")
	if err != nil {
		return []Result{{Scenario: sc, Metric: "-", Skipped: err.Error()}}
	}
	loginTime := time.Since(t0)
	var n int
	fmt.Sscanf(stat, "+OK %d", &n)
	n = min(n, o.pop3Count)
	if n == 0 {
		return []Result{{Scenario: sc, Metric: "-", Skipped: fmt.Sprintf("%s has no messages (%s)", o.pop3User, stat)}}
	}
	var total int64
	t := time.Now()
	for i := 1; i <= n; i++ {
		if _, err := c.cmd("RETR %d", i); err != nil {
			return []Result{{Scenario: sc, Metric: "-", Skipped: fmt.Sprintf("RETR %d: %s", i, timeoutText(err, o.opTimeout))}}
		}
		m, err := c.multiline()
		if err != nil {
			return []Result{{Scenario: sc, Metric: "-", Skipped: fmt.Sprintf("RETR %d: %s", i, timeoutText(err, o.opTimeout))}}
		}
		total += m
	}
	el := time.Since(t)
	c.cmd("QUIT")
	d := fmt.Sprintf("user %s, RETR 1..%d one after another, %.1f MB", o.pop3User, n, float64(total)/1e6)
	return []Result{
		{Scenario: sc, Metric: "login+STAT s", Value: loginTime.Seconds(), Better: lower, Detail: "first session on a new maildrop"},
		{Scenario: sc, Metric: fmt.Sprintf("RETR %d s", n), Value: el.Seconds(), Better: lower, Detail: d},
		{Scenario: sc, Metric: "RETR MB/s", Value: float64(total) / 1e6 / el.Seconds(), Better: higher},
	}
}

// restingPSS waits until the server is at rest and returns its PSS and
// process count: processes may still be going away (cote's workers
// linger 10 s after their last session), so it waits, up to the settling
// time, until the process count has not fallen for 15 s.
func restingPSS(o *options) (kb int64, procs int) {
	time.Sleep(time.Second)
	kb, procs, _ = o.srv.pss()
	for waited, stable := time.Duration(0), 0; waited < o.idleSettle && stable < 15; waited += time.Second {
		time.Sleep(time.Second)
		k, p, _ := o.srv.pss()
		if p < procs {
			stable = 0
		} else {
			stable++
		}
		kb, procs = k, p
	}
	return kb, procs
}

// runIdle opens idleConns IDLE sessions, idlePerUser per user, and
// reports the server's PSS growth per connection.
func runIdle(o *options) []Result {
	sc := o.idleName
	if c, err := dialIMAP(o.imapAddr, o.timeout); err != nil {
		return unreachable(sc, "IMAP", o.imapAddr, err)
	} else {
		c.Close()
	}
	if !o.srv.ok() {
		return []Result{{Scenario: sc, Metric: "-", Skipped: "no server pid or cgroup given (-pid, -cgroup)"}}
	}
	before, procs0 := restingPSS(o)
	conns := make([]*imapConn, o.idleConns)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	users := (o.idleConns + o.idlePerUser - 1) / o.idlePerUser
	ctx, cancel := context.WithTimeout(context.Background(), o.opTimeout)
	defer cancel()
	ok, failed, el, first := loop(min(50, o.idleConns), o.opTimeout, o.idleConns, func(_, i int) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c, err := dialIMAP(o.imapAddr, o.timeout)
		if err != nil {
			return err
		}
		c.deadline(o.opTimeout)
		if err := c.login(o.user(i%users), o.pass); err != nil {
			c.Close()
			return err
		}
		if _, err := c.selectBox("INBOX"); err != nil {
			c.Close()
			return err
		}
		tag := c.nextTag()
		c.send("%s IDLE", tag)
		l, err := c.line()
		for err == nil && !strings.HasPrefix(l, "+") {
			l, err = c.line()
		}
		if err != nil {
			c.Close()
			return fmt.Errorf("IDLE: %w", err)
		}
		c.deadline(0)
		conns[i] = c
		return nil
	})
	time.Sleep(o.idleSettle)
	after, procs1, _ := o.srv.pss()
	alive := 0
	for _, c := range conns {
		if c == nil {
			continue
		}
		c.c.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, err := c.r.Peek(1); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			continue // the server closed it
		}
		alive++
	}
	if ok == 0 {
		return []Result{{Scenario: sc, Metric: "-", Skipped: fmt.Sprintf("no IDLE session opened: %v", first)}}
	}
	// The server at rest again once the sessions are closed: memory the
	// earlier scenarios' processes gave back while the sessions were open
	// (a worker's heap returned to the system minutes after a large
	// FETCH) is not the sessions' to be credited with. The lower of the
	// two rests is the base.
	for i, c := range conns {
		if c != nil {
			c.Close()
			conns[i] = nil
		}
	}
	rest, procs2 := restingPSS(o)
	base := min(before, rest)
	pss := Result{Scenario: sc, Metric: "PSS KB/connection", Value: float64(after-base) / float64(ok), Better: lower,
		Detail: fmt.Sprintf("%d IDLE sessions over %d users; server PSS %d MB in %d processes before, %d MB in %d after %s settling, %d MB in %d once they closed (%.1f KB per connection for the whole server)%s",
			ok, min(users, ok), before/1024, procs0, after/1024, procs1, o.idleSettle, rest/1024, procs2, float64(after)/float64(ok), errDetail(failed, first))}
	if after <= base {
		// Memory of earlier scenarios went away meanwhile: the
		// difference says nothing about the sessions.
		pss.Skipped = fmt.Sprintf("server PSS with the sessions open (%d MB) was no more than at rest (%d MB before them, %d MB after; earlier scenarios' memory freed)",
			after/1024, before/1024, rest/1024)
	}
	return []Result{
		pss,
		{Scenario: sc, Metric: "connections held", Value: float64(alive), Better: higher,
			Detail: fmt.Sprintf("of %d asked for, opened in %.1f s, still open after settling", o.idleConns, el.Seconds())},
	}
}
