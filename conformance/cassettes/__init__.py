"""Cassettes: recording and replaying the suite's HTTP traffic, and reading anyone's recordings.

The modules, one concern each:

* ``session``: a run's cassettes: one per test, the overwrite refusal, the post-recording scan;
* ``vcr``: the vcrpy configuration (matching, scrubbing, record modes, network blocking);
* ``serializer``: the readable byte-exact YAML vcrpy writes, and the provenance stamp;
* ``secrets``: the secret scanner of written cassette files;
* ``timing``: per-event arrival times of streams, recorded and replayed;
* ``interactions``: reading cassettes (YAML/JSON, base64, gzip) into ``Exchange`` values;
* ``lint``: ``check-cassettes``, recordings through the validation layer.

The names below are the package's public API; the modules stay importable for their own names.
"""

from conformance.cassettes import _rewrite  # noqa: F401  (first: it must run before vcr loads)
from conformance.cassettes.secrets import SecretHit, scan_paths
from conformance.cassettes.session import (
    CassetteOverwrite,
    RunCassettes,
    cassette_path,
    overwrite_error,
    plays,
    use_cassette,
)
from conformance.cassettes.vcr import (
    RECORD_HINT,
    CassetteMiss,
    CassetteUnreadable,
    NetworkBlocked,
    block_network,
    make_vcr,
    match_json_body,
    translate_error,
)

__all__ = [
    "RECORD_HINT",
    "CassetteMiss",
    "CassetteOverwrite",
    "CassetteUnreadable",
    "NetworkBlocked",
    "RunCassettes",
    "SecretHit",
    "block_network",
    "cassette_path",
    "make_vcr",
    "match_json_body",
    "overwrite_error",
    "plays",
    "scan_paths",
    "translate_error",
    "use_cassette",
]

# Errors read as ``conformance.cassettes.CassetteMiss`` in tracebacks and test summaries, whatever
# module defines them (the way httpx presents its public names).
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = __name__
