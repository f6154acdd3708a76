"""Use cases: callable from web, worker and telephony; never touch flask.request."""
