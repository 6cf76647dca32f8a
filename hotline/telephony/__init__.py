"""Twilio at the edge: TwiML out, signatures in, REST calls out. Nothing else imports twilio."""
