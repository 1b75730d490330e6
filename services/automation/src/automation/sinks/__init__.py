"""Local stand-ins for outside delivery services: an SMTP sink and a Twilio-compatible SMS sink."""
