package imap

import (
	"errors"
	"fmt"
	"log/slog"

	"cote/storage"
)

// internalErrorText is the fixed text of an unexpected failure; the detail
// goes to the log only (as Dovecot does).
const internalErrorText = "Internal error occurred. Refer to server log for more information."

// statusError is a tagged NO or BAD response a handler chose.
type statusError struct {
	bad  bool   // BAD rather than NO
	code string // response code without brackets, "" for none
	text string
}

func (e *statusError) Error() string { return e.text }

func errNo(code, format string, args ...any) error {
	return &statusError{code: code, text: fmt.Sprintf(format, args...)}
}

func errBad(format string, args ...any) error {
	return &statusError{bad: true, text: fmt.Sprintf(format, args...)}
}

// destError marks an error about a COPY, MOVE or APPEND destination,
// where a missing mailbox is answered with [TRYCREATE] (RFC 3501 section
// 6.3.11, 6.4.7).
type destError struct{ err error }

func (e *destError) Error() string { return e.err.Error() }
func (e *destError) Unwrap() error { return e.err }

func destination(err error) error {
	if err == nil {
		return nil
	}
	return &destError{err}
}

// response is the wire form of a tagged completion.
type response struct {
	kind string // "OK", "NO" or "BAD"
	code string
	text string
}

// mapError turns any handler error into the tagged response: the one
// place where storage errors meet the wire (response codes from RFC 5530,
// RFC 3501 section 7.1, RFC 4469, RFC 7889).
func mapError(err error, log *slog.Logger, cmd string) response {
	var se *statusError
	if errors.As(err, &se) {
		kind := "NO"
		if se.bad {
			kind = "BAD"
		}
		return response{kind, se.code, se.text}
	}
	var syn *syntaxError
	if errors.As(err, &syn) {
		return response{"BAD", "", "Error in IMAP command " + cmd + ": " + syn.msg}
	}
	var de *destError
	isDest := errors.As(err, &de)
	switch {
	case errors.Is(err, storage.ErrNoSuchMailbox):
		if isDest {
			return response{"NO", "TRYCREATE", "Mailbox doesn't exist."}
		}
		return response{"NO", "NONEXISTENT", "Mailbox doesn't exist."}
	case errors.Is(err, storage.ErrMailboxExists):
		return response{"NO", "ALREADYEXISTS", "Mailbox already exists."}
	case errors.Is(err, storage.ErrInvalidName):
		return response{"NO", "CANNOT", "Invalid mailbox name."}
	case errors.Is(err, storage.ErrUseAttr):
		return response{"NO", "USEATTR", "Unsupported special-use attribute."}
	case errors.Is(err, storage.ErrInbox):
		return response{"NO", "CANNOT", "Operation not allowed on INBOX."}
	case errors.Is(err, storage.ErrHasChildren):
		return response{"NO", "INUSE", "Mailbox has children, delete them first."}
	case errors.Is(err, storage.ErrReadOnly):
		return response{"NO", "READ-ONLY", "Mailbox is read-only."}
	case errors.Is(err, storage.ErrOverQuota):
		return response{"NO", "OVERQUOTA", "Quota exceeded."}
	case errors.Is(err, storage.ErrTooBig):
		return response{"NO", "TOOBIG", "Message too large."}
	case errors.Is(err, storage.ErrKeywordsFull):
		return response{"NO", "LIMIT", "Too many keywords."}
	case errors.Is(err, storage.ErrLimit):
		return response{"NO", "LIMIT", "Limit exceeded."}
	case errors.Is(err, storage.ErrNoSuchMessage):
		return response{"NO", "EXPUNGEISSUED", "Some of the requested messages no longer exist."}
	case errors.Is(err, storage.ErrNotImplemented):
		return response{"NO", "CANNOT", "Not supported by this mail store."}
	case errors.Is(err, storage.ErrTemporary), errors.Is(err, storage.ErrClosed):
		log.Warn("temporary storage failure", "command", cmd, "err", err)
		return response{"NO", "UNAVAILABLE", "Temporary storage failure, try again later."}
	}
	log.Error("command failed", "command", cmd, "err", err)
	return response{"NO", "SERVERBUG", internalErrorText}
}
