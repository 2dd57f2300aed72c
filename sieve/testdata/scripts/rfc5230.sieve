require ["vacation", "variables", "vacation-seconds"];
if header :matches "subject" "*" {
    vacation :subject "Automatic response to: ${1}"
             :seconds 1800 :from "hemingway@example.com" :handle "away"
             :addresses ["tjs@example.edu", "ts4z@landru.example.edu"]
             "I'm away until October 19.";
} else {
vacation :mime text:
Content-Type: multipart/alternative; boundary=foo

--foo

I'm at the beach relaxing.  Mmmm, surf...

--foo
Content-Type: text/html; charset=us-ascii

<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.0//EN">
<HTML><HEAD><TITLE></TITLE></HEAD>
<BODY><P>I'm at the <A HREF="http://example.com/">beach</A> relaxing.
Mmmm, surf...
</BODY></HTML>

--foo--
.
;
}
