"""qconsole: grow a base language model through conversation."""

__version__ = "0.1.0"
