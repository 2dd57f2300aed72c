package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SieveSettings are Pigeonhole's settings in plugin { } that the worker's
// Sieve (delivery and ManageSieve) uses, parsed. Zero values mean the
// interpreter's defaults.
type SieveSettings struct {
	// Global is sieve_global (or the older sieve_global_dir): the
	// administrator's directory that include :global reads (RFC 6609),
	// as written (a "file:" prefix and "~/" are the worker's to
	// expand).
	Global string
	// Extensions is sieve_extensions, as written.
	Extensions    string
	MaxRedirects  int           // sieve_max_redirects
	MaxActions    int           // sieve_max_actions
	MaxScriptSize uint64        // sieve_max_script_size
	MaxCPUTime    time.Duration // sieve_max_cpu_time
}

// ParseSieve reads the Sieve settings of a plugin { } block.
func ParseSieve(plugin map[string]string) (SieveSettings, error) {
	s, errs := parseSieve(plugin)
	if len(errs) == 0 {
		return s, nil
	}
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.key+": "+e.msg)
	}
	sort.Strings(msgs)
	return s, fmt.Errorf("plugin: %s", strings.Join(msgs, "; "))
}

// sieveError is a bad value of the plugin setting key.
type sieveError struct{ key, msg string }

func parseSieve(plugin map[string]string) (SieveSettings, []sieveError) {
	var s SieveSettings
	s.Global = plugin["sieve_global"]
	if s.Global == "" {
		s.Global = plugin["sieve_global_dir"]
	}
	s.Extensions = plugin["sieve_extensions"]
	var errs []sieveError
	num := func(key string, dst *int) {
		if v, ok := plugin[key]; ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 0 {
				errs = append(errs, sieveError{key, fmt.Sprintf("%q is not a count", v)})
				return
			}
			*dst = n
		}
	}
	num("sieve_max_redirects", &s.MaxRedirects)
	num("sieve_max_actions", &s.MaxActions)
	if v, ok := plugin["sieve_max_script_size"]; ok {
		n, err := ParseSize(strings.TrimSpace(v))
		if err != nil {
			errs = append(errs, sieveError{"sieve_max_script_size", err.Error()})
		}
		s.MaxScriptSize = n
	}
	if v, ok := plugin["sieve_max_cpu_time"]; ok {
		d, err := ParseDuration(strings.TrimSpace(v))
		if err != nil {
			errs = append(errs, sieveError{"sieve_max_cpu_time", err.Error()})
		}
		s.MaxCPUTime = d
	}
	return s, errs
}

// sieve checks the Sieve settings of plugin { }, each error at its line.
func (v *validator) sieve() {
	_, errs := parseSieve(v.s.Plugin)
	for _, e := range errs {
		v.errorf("plugin/"+e.key, "plugin setting %s: %s", e.key, e.msg)
	}
}
