"""One module per flow; each is a small state machine over a ``Dialog``."""
