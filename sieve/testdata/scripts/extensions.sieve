require ["imap4flags", "fileinto", "body", "date", "relational", "index", "subaddress", "envelope",
         "copy", "editheader", "duplicate", "mailbox", "special-use", "mailboxid", "environment",
         "spamtest", "virustest", "ihave", "enotify", "regex", "encoded-character",
         "comparator-i;ascii-numeric", "reject", "ereject", "variables", "include"];
if body :content "text" :contains ["missile", "coordinates"] { fileinto :flags "\\Flagged" "secrets"; }
if date :value "gt" :index 1 :zone "-0500" "received" "iso8601" "2007-02-26T09:00:00-05:00" {
  redirect :copy "aftercutoff@example.org"; }
if envelope :detail "to" "mta-filters" { fileinto :create :specialuse "\\Junk" "ietf"; }
if duplicate :seconds 60 :uniqueid "${1}" { setflag "\\seen"; }
if spamtest :value "ge" :comparator "i;ascii-numeric" "6" { addheader "X-Junk" "yes"; deleteheader :index 1 :last "x-spam"; }
if ihave "x-unknown" { frob; } else { notify :importance "1" "mailto:me@example.com?subject=${hex:41}"; }
if header :regex "subject" "^(.*)$" { global "x"; set :length "x" "${1}"; }
if virustest "5" { ereject "virus"; }
include :optional :once :global "common";
