package imap

import "testing"

// TestCompletedText: the OK texts made once are those commandName makes,
// for the plain and the UID forms, and a command without one gets its
// text made.
func TestCompletedText(t *testing.T) {
	for _, c := range []command{
		{name: "FETCH"}, {name: "FETCH", uid: true}, {name: "STORE", uid: true},
		{name: "NOOP"}, {name: "SELECT"}, {name: "GETQUOTAROOT"}, {name: "X"},
	} {
		if got, want := completedText(&c), commandName(&c)+" completed."; got != want {
			t.Errorf("completedText(%+v) = %q, want %q", c, got, want)
		}
	}
	if got := completedText(&command{name: "FETCH", uid: true}); got != "UID Fetch completed." {
		t.Errorf("UID FETCH: %q", got)
	}
	if n := testing.AllocsPerRun(100, func() { completedText(&command{name: "EXPUNGE", uid: true}) }); n != 0 {
		t.Errorf("completedText allocates %v times", n)
	}
}

// TestMetricName: the known commands by name, the UID forms of those
// that have one, and "unknown" for anything else, with no allocation.
func TestMetricName(t *testing.T) {
	for _, tc := range []struct {
		c    command
		want string
	}{
		{command{name: "FETCH"}, "FETCH"}, {command{name: "FETCH", uid: true}, "UID FETCH"},
		{command{name: "NOOP"}, "NOOP"}, {command{name: "NOOP", uid: true}, "unknown"},
		{command{name: "CANCELUPDATE"}, "CANCELUPDATE"}, {command{name: "X-SECRET"}, "unknown"},
	} {
		if got := metricName(&tc.c); got != tc.want {
			t.Errorf("metricName(%+v) = %q, want %q", tc.c, got, tc.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { metricName(&command{name: "STORE", uid: true}) }); n != 0 {
		t.Errorf("metricName allocates %v times", n)
	}
}
