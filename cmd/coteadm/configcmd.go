package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"cote/config"
)

func configCommand() command {
	return command{
		name:    "config",
		usage:   "[-n | -a]",
		summary: "check the configuration, or print it (-n: what differs from the defaults, -a: all)",
		help: "Reads the configuration the way the master does (the file of -c, default " + defaultConfig +
			", or the development configuration of --dev DIR) and checks all of it. Without flags it prints " +
			"`FILE: ok` and exits 0, or prints every problem as `file:line: message` and exits 1.\n\n" +
			"-n prints the settings that were set or differ from their defaults, -a every setting; both are " +
			"configuration text that parses back to the same settings, the same as `cote -n` and `cote -a`. " +
			"A configuration with errors is printed as far as it was understood, the errors go to standard " +
			"error, and the exit status is 1. With -f json, the checked settings are printed as JSON (the form " +
			"the master hands its children) with the private key and its password left out.",
		run: runConfig,
	}
}

func runConfig(e *env, args []string) error {
	c := configCommand()
	fs := e.newFlagSet(c)
	nonDefault := fs.Bool("n", false, "print the settings that differ from the defaults")
	all := fs.Bool("a", false, "print every setting")
	operands, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(operands) > 0 {
		return usageError("unexpected argument %q", operands[0])
	}
	if *nonDefault && *all {
		return usageError("-n and -a exclude each other")
	}
	name, s, err := e.loadConfig()
	if s == nil {
		return err
	}
	if err != nil {
		var list config.ErrorList
		if !errors.As(err, &list) {
			return err
		}
		for _, ce := range list {
			fmt.Fprintln(e.stderr, ce)
		}
	}
	switch {
	case e.format == "json":
		b, jerr := json.MarshalIndent(s.WithoutSecrets(), "", "  ")
		if jerr != nil {
			return jerr
		}
		fmt.Fprintf(e.stdout, "%s\n", b)
	case *all:
		if werr := s.WriteAll(e.stdout); werr != nil {
			return werr
		}
	case *nonDefault:
		if werr := s.WriteNonDefault(e.stdout); werr != nil {
			return werr
		}
	case err == nil:
		fmt.Fprintf(e.stdout, "%s: ok\n", name)
	}
	if err != nil {
		return silentFailure
	}
	return nil
}

// loadConfig reads the instance's configuration as the master would: the
// -c file, or with --dev the development default for that directory. The
// Settings is nil only when nothing could be read.
func (e *env) loadConfig() (string, *config.Settings, error) {
	if e.devDir == "" {
		s, err := config.ParseFile(e.confPath)
		return e.confPath, s, err
	}
	dir, err := filepath.Abs(e.devDir)
	if err != nil {
		return "", nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "ssl")); err != nil {
		return "", nil, fmt.Errorf("%s is not a development instance (run cote --dev %s once): %w", dir, e.devDir, err)
	}
	ids := config.DevIDs{Root: os.Getuid() == 0, UID: os.Getuid(), GID: os.Getgid()}
	name := "(development default for " + dir + ")"
	s, err := config.ParseString(name, config.DevText(dir, ids))
	return name, s, err
}
