"""Cassettes: recording and replaying the suite's HTTP traffic, and reading anyone's recordings.

The modules, one concern each:

* ``vcr``: the vcrpy configuration (matching, scrubbing, record modes, network blocking);
* ``interactions``: reading cassettes (YAML/JSON, base64, gzip) into ``Exchange`` values;
* ``lint``: ``check-cassettes``, recordings through the validation layer;
* ``recording``: the readable serializer, provenance, the secret scanner;
* ``timing``: per-event arrival times of streams, recorded and replayed.

The names below are the package's public API; the modules stay importable for their own names.
"""

from conformance.cassettes.vcr import (
    CassetteMiss,
    CassetteOverwrite,
    CassetteUnreadable,
    NetworkBlocked,
    block_network,
    cassette_path,
    make_vcr,
    match_json_body,
    overwrite_error,
    translate_error,
    use_cassette,
)

__all__ = [
    "CassetteMiss",
    "CassetteOverwrite",
    "CassetteUnreadable",
    "NetworkBlocked",
    "block_network",
    "cassette_path",
    "make_vcr",
    "match_json_body",
    "overwrite_error",
    "translate_error",
    "use_cassette",
]

# Errors read as ``conformance.cassettes.CassetteMiss`` in tracebacks and test summaries, whatever
# module defines them (the way httpx presents its public names).
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = __name__
