"""Where the shared corpora of real recordings are (tests skip when they are absent)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CORPUS_ENV = "ANTHROPIC_CONFORMANCE_CORPUS"
#: The folders next to the corpus that hold the real recordings (corpus-formats: other formats).
NAMES = ("corpus", "corpus-formats")


def shared_dir() -> Path:
    """The first ``shared`` folder above the checkout (a worktree sits one level deeper)."""
    for parent in REPO_ROOT.parents:
        if (parent / "shared" / "corpus").is_dir():
            return parent / "shared"
    return REPO_ROOT.parent / "shared"


def corpus_dirs() -> list[Path]:
    """``$ANTHROPIC_CONFORMANCE_CORPUS`` (paths joined by os.pathsep), else the shared corpora."""
    configured = os.environ.get(CORPUS_ENV)
    if configured:
        return [Path(p) for p in configured.split(os.pathsep) if p]
    return [shared_dir() / name for name in NAMES]
