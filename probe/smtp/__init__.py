"""The SMTP client: the bounded wire protocol, one dialogue (session), proxy and politeness."""
