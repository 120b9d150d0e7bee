"""Today's Messages features of the reference server, one module each.

Each module holds the validation and the deterministic behaviour of one feature (prompt caching,
citations, ...); ``reference/messages.py`` calls them, so route code stays a thin wrapper.
"""
