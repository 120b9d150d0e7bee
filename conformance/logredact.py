"""Log redaction: the run's credentials never reach a log record, whoever the logger is.

httpx and httpcore log at DEBUG what they send and receive (httpcore prints raw response headers,
so a target that echoes a key puts it in the log); vcrpy logs URLs; anyone's logger may format a
key. A record filter on a logger only sees that logger's own records, and pytest adds its capture
handlers after the plugin starts, so the net is the record factory: every record, of any logger,
is rendered and redacted (``redact.redact_text``) the moment it is created. A filter on the root
logger and on every handler that exists at install time catches records built some other way
(``logging.makeLogRecord``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from conformance import redact

__all__ = ["LogRedaction", "RedactingFilter", "install", "redact_record"]


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """``record`` with its message (rendered with its args), exception text and stack text
    redacted; left as it is when there is nothing to hide (its args stay for whoever reads
    them) or when its message cannot be rendered (logging reports that itself, later)."""
    try:
        message = record.getMessage()
    except Exception:
        return record
    redacted = redact.redact_text(message)
    if redacted != message:
        record.msg, record.args = redacted, None
    if record.exc_info and not record.exc_text:
        # Formatted now, as Formatter would later, so the cached text is the redacted one.
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact.redact_text(record.exc_text)
    if record.stack_info:
        record.stack_info = redact.redact_text(record.stack_info)
    return record


class RedactingFilter(logging.Filter):
    """Redacts each record that passes (never drops one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


class LogRedaction:
    """One installation: the wrapped record factory and the filters it added; ``remove`` undoes
    exactly those (a factory installed after this one is kept, this layer just stops acting)."""

    def __init__(self) -> None:
        self.active = True
        self._previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()
        self._filter = RedactingFilter()
        root = logging.getLogger()
        self._filtered: list[logging.Filterer] = [root, *root.handlers]
        for logger in list(logging.Logger.manager.loggerDict.values()):
            if isinstance(logger, logging.Logger):
                self._filtered += logger.handlers
        for filtered in self._filtered:
            filtered.addFilter(self._filter)
        logging.setLogRecordFactory(self._factory)

    def _factory(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self._previous(*args, **kwargs)
        return redact_record(record) if self.active else record

    def remove(self) -> None:
        self.active = False
        if logging.getLogRecordFactory() == self._factory:
            logging.setLogRecordFactory(self._previous)
        for filtered in self._filtered:
            filtered.removeFilter(self._filter)


def install() -> LogRedaction:
    """Redact the run's credentials in every log record from now until ``remove()``."""
    return LogRedaction()
