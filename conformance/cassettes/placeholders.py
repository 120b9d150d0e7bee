"""Recognise what a recorder wrote where it scrubbed a value: ``<REQUEST_ID>``, ``REQUEST-ID-XXX``,
``<ANTHROPIC_API_KEY>``, ``[REDACTED]``, ``sk-ant-xxxxxxxx``.

Two consumers need the same judgement: the linter, which reports a placeholder ``request-id``
as "redacted" (a note) instead of a malformed id, and the secret scanner, which must not call a
placeholder a leaked key while still catching anything that looks like a real one. Real keys and
ids are long runs of mixed-case letters and digits; placeholders are words, brackets or runs of
one masking character.
"""

from __future__ import annotations

import re

# A value wrapped in brackets whose inside is a word (ANTHROPIC_API_KEY, redacted, api key).
# (U+2039/U+203A and U+00AB/U+00BB are the typographic angle quotes some recorders use.)
_WRAPPED = re.compile(
    "^(<|\u2039|\u00ab|\\[|\\{\\{|\\$\\{|%)\\s*[A-Za-z][A-Za-z0-9 _.\\-]*\\s*"
    "(>|\u203a|\u00bb|\\]|\\}\\}|\\}|%)$"
)
# Words recorders write when they scrub.
_WORDS = re.compile(
    r"(?i)redact|placeholder|filtered|scrubbed|masked|hidden|removed|dummy|"
    r"changeme|replace[_-]?me|your[_-]|x{3,}|\*{3,}|\.{3,}|…"
)
# Masking runs: nothing but x, *, #, 0 or dots.
_MASK_RUN = re.compile(r"(?i)^[x*#0._\-]+$")
# Key prefixes whose remainder decides (a real key's remainder is long and random).
_KEY_PREFIX = re.compile(r"^(?i:bearer\s+)?(sk-ant-(?:admin\d*-|api\d*-|oat\d*-)?|req_)")


def is_placeholder(value: str) -> bool:
    """True when ``value`` is what a recorder wrote instead of a real key, token or id.

    ``<ANTHROPIC_API_KEY>``, ``\u2039ANTHROPIC_API_KEY\u203a``, ``{{API_KEY}}``, ``[REDACTED]``,
    ``X-API-KEY-PLACEHOLDER``, ``REQUEST-ID-XXX``, ``sk-ant-xxxxxxxx``, ``sk-ant-api03-…`` and
    all-capital words without digits (``ANTHROPIC_API_KEY``) are; ``sk-ant-api03-`` followed by
    a random-looking remainder is not, whatever words it contains (a planted test key like
    ``sk-ant-api03-PLANTEDfakeKEY0123`` must still be caught).
    """
    text = value.strip().strip("\"'")
    text = re.sub(r"^(?i:bearer)\s+", "", text)  # "Bearer <ANTHROPIC_API_KEY>" is scrubbed too
    if not text:
        return True
    if _WRAPPED.match(text):
        return True
    prefix = _KEY_PREFIX.match(text)
    core = text[prefix.end() :] if prefix else text
    if not core or _MASK_RUN.match(core):
        return True
    if prefix:
        # Only masking inside a key counts; words do not (real-looking keys stay secrets).
        return bool(
            re.fullmatch(r"(x{3,}|X{3,}|\*{3,}|\.{3,}|…|<[^>]*>|[A-Z_\-]+)[xX*._\-]*", core)
        ) and not any(c.isdigit() for c in core)
    if _WORDS.search(text):
        return True
    # ANTHROPIC_API_KEY, X-API-KEY-HERE: capitals and separators only, no digit.
    return bool(re.fullmatch(r"[A-Z][A-Z_\-]*", text))


__all__ = ["is_placeholder"]
