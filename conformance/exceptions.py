"""The root of the errors of the tool and of its use: :class:`ConformanceToolError`.

Two kinds of exception leave this package, and they are kept apart on purpose:

* **Verdicts on the target** are ``AssertionError`` subclasses, so that pytest reports the
  test as *failed*: ``conformance.exchange.ConformanceError`` (an answer breaks the contract)
  and ``conformance.client.UnreadableAnswer`` (an answer that cannot be read). Beside them,
  ``conformance.upstream.UpstreamLookupError`` (a ``LookupError``: the upstream has no record
  of a proxy's answer) and ``conformance.sse.AccumulationError`` (a ``ValueError``: a stream
  that does not fold into a message) are findings about the target that its tests report.
* **Tool and usage errors** (a setting, a file, a cassette, an unreachable target: something the
  user fixes, not something the target got wrong) derive from :class:`ConformanceToolError`, so
  one ``except ConformanceToolError`` catches every one of them. Each also keeps the built-in base
  its callers and pytest rely on (multiple inheritance), e.g. a cassette miss still *fails* the
  test it stops, and ``except ValueError`` around settings still works::

    ConformanceToolError
    ├── ConfigError (ValueError)               conformance.settings: a setting's bad value
    ├── SchemaLoadError (RuntimeError)         conformance.schemas: schemas/ missing or broken
    ├── CheckRegistrationError (ValueError)    conformance.checks: a check registered wrongly
    ├── ReportFileError (ValueError)           conformance.report.render: a bad report.json
    ├── CassetteError                          conformance.cassettes.readers: a file no reader reads
    ├── CassetteOverwrite (RuntimeError)       conformance.cassettes: a recording would overwrite
    ├── CassetteMiss (AssertionError)          conformance.cassettes: no recorded answer (fails)
    ├── CassetteUnreadable (AssertionError)    conformance.cassettes: a broken cassette (fails)
    ├── NetworkBlocked (ConnectionError)       conformance.cassettes: a socket during a replay
    ├── TargetUnreachable (ConnectionError)    conformance.client: no answer at all, after retries
    │   └── ConnectionLost (+ Inconclusive)    conformance.client: it was there, each try cut off
    ├── UpstreamUnreachable (UpstreamLookupError)  conformance.upstream: the upstream's record
    ├── UnknownEndpoint (KeyError)             conformance.catalog: a name ENDPOINTS lacks
    └── RouteTableError (LookupError)          conformance.reference.routing: routes vs catalog

The classes live beside the code that raises them (as their messages need its context); this
module only holds the root, so that importing it costs nothing and creates no cycle.
"""

from __future__ import annotations

__all__ = ["ConformanceToolError"]


class ConformanceToolError(Exception):
    """An error of the tool or of its use (not of the target): its message names the cause
    and the fix, in one line."""
