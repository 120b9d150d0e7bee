"""What a client of the reference server needs to know of it, without its server code (which
imports starlette): the test-only header that forces a status, and the path of its journal of
answers. ``conformance.target`` and ``conformance.upstream`` read these in every run."""

from __future__ import annotations

#: ``GET`` it (with the server's key) for the journal of every answer it sent.
ANSWERS_PATH = "/_reference/answers"
#: A request carrying it is answered that status (the reference server only).
FORCE_STATUS_HEADER = "x-conformance-force-status"
