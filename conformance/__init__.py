"""anthropic-conformance: a conformance suite for the Anthropic HTTP API, as a pytest plugin."""

__version__ = "0.1.0"
