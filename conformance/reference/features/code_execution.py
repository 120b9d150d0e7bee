"""Code execution (``code_execution_20250825`` and its later dated types) in a container.

Shapes follow api-contract.md §2 and recorded real answers (pydantic-ai's code execution
cassettes of 2026): the model calls ``bash_code_execution`` (``server_tool_use`` with
``input: {command}``), the result is a ``bash_code_execution_tool_result`` whose ``content`` is
``{type: bash_code_execution_result, stdout, stderr, return_code, content: [...]}``, and the
Message carries ``container: {id, expires_at}`` (in a stream on ``message_delta.delta``, not on
``message_start``). A request passing ``container: <id>`` runs in that container again and sees
its files. A user message's ``container_upload {file_id}`` block puts a Files API file into the
container's input directory (``$INPUT_DIR``, as the recorded command reads it).

The reference server does NOT run arbitrary code: ``run`` is a tiny deterministic interpreter of
a fixed set of test commands (``echo``, ``printf``, ``cat``, ``ls``, with ``>`` redirection to a
file), and anything else exits 127 saying so. The model runs each backquoted command of the last
user text in order, one ``bash_code_execution`` call each.

Modelled where the docs are vague (say so in README): every file a command writes comes back as
a ``bash_code_execution_output {file_id}`` in its result's ``content``, and that file is in the
Files API with ``downloadable: true`` (the docs' way to retrieve files code creates; which paths
the real container reports is not documented). The container expires one hour after its last
use (a 2026 recording's expires_at is an hour after the request). An unknown container id is
refused with a 400 naming it (the real API's answer is not recorded). Not modelled: the older
Python-only ``code_execution_20250522`` (its ``code_execution_tool_result``; accepted, never
run), ``text_editor_code_execution``, skills, and execution limits.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from conformance import catalog
from conformance.reference.errors import invalid

BASH = "bash_code_execution"
STORE = "container"
#: Where ``container_upload`` files land; the real value of ``$INPUT_DIR`` is not recorded.
INPUT_DIR = "/tmp/inputs"
LIFETIME = timedelta(hours=1)
#: Tool types that run bash in a container (the 2025-05-22 one is Python-only: not run here).
BASH_TOOL_PREFIX = "code_execution_"
PYTHON_ONLY = ("code_execution_20250522",)
_COMMAND = re.compile(r"`([^`\n]+)`")


@dataclass
class Container:
    """One container's id, its files (path -> bytes) and when it expires."""

    id: str
    files: dict[str, bytes] = field(default_factory=dict)
    expires_at: str = ""


@dataclass
class Sandbox:
    """What a code execution turn needs from the server's state: containers, the Files API
    store, an id minter and the clock."""

    containers: dict[str, Container]
    add_file: Callable[[str, bytes], str]  # (filename, bytes) -> the new file's id
    read_file: Callable[[str], tuple[str, bytes] | None]  # file id -> (filename, bytes)
    new_container_id: Callable[[], str]
    now: datetime
    #: The container the turn ran in (the answer's ``container``), set by ``turn``.
    used: Container | None = None


def tool(body: dict[str, Any]) -> dict[str, Any] | None:
    """The request's code execution tool that runs bash here, if any."""
    return next(
        (
            t
            for t in body.get("tools") or []
            if isinstance(t, dict)
            and str(t.get("type", "")).startswith(BASH_TOOL_PREFIX)
            and t.get("type") not in PYTHON_ONLY
        ),
        None,
    )


def check_tool(t: dict[str, Any], path: str) -> None:
    if str(t.get("type", "")).startswith(BASH_TOOL_PREFIX) and t.get("name") != "code_execution":
        raise invalid(f"{path}.name: Input should be 'code_execution'")


def check_container(body: dict[str, Any], containers: dict[str, Container]) -> None:
    """``container`` is a string id (or ``{id}``) of a container this organisation has."""
    wanted = container_id(body)
    if "container" in body and body["container"] is not None and wanted is None:
        raise invalid("container: Input should be a valid string")
    if wanted is not None and wanted not in containers:
        raise invalid(f"container: container not found: {wanted}")


def container_id(body: dict[str, Any]) -> str | None:
    given = body.get("container")
    if isinstance(given, dict):
        given = given.get("id")
    return given if isinstance(given, str) else None


def commands(text: str) -> list[str]:
    """The backquoted commands of the user's text, in order."""
    return [c.strip() for c in _COMMAND.findall(text) if c.strip()]


def _expand(word: str) -> str:
    return word.replace("${INPUT_DIR}", INPUT_DIR).replace("$INPUT_DIR", INPUT_DIR)


def _printf(args: list[str]) -> str:
    if not args:
        return ""
    fmt, rest = args[0], args[1:]
    if fmt == "%s":
        return "".join(rest)
    return fmt.replace("\\n", "\n")


@dataclass
class Run:
    stdout: str = ""
    stderr: str = ""
    return_code: int = 0
    written: list[str] = field(default_factory=list)


def run(command: str, files: dict[str, bytes]) -> Run:
    """Run one test command against the container's ``files`` (changed in place).

    The fixed set: ``echo WORDS``, ``printf FORMAT [ARGS]`` (``%s`` joins its arguments,
    otherwise ``\\n`` escapes are honoured), ``cat PATH...``, ``ls [DIR]``; ``> PATH`` writes the
    output to a file instead. Anything else exits 127: this is not a shell."""
    try:
        words = [_expand(w) for w in shlex.split(command)]
    except ValueError as exc:
        return Run(stderr=f"bash: syntax error: {exc}\n", return_code=2)
    target = None
    if ">" in words:
        at = words.index(">")
        if at + 1 >= len(words):
            return Run(stderr="bash: syntax error near unexpected token `newline'\n", return_code=2)
        target, words = words[at + 1], words[:at]
    if not words:
        return Run(stderr="bash: no command\n", return_code=2)
    name, args = words[0], words[1:]
    out = Run()
    if name == "echo":
        out.stdout = " ".join(args) + "\n"
    elif name == "printf":
        out.stdout = _printf(args)
    elif name == "cat":
        for path in args:
            if path in files:
                out.stdout += files[path].decode("utf-8", errors="replace")
            else:
                out.stderr += f"cat: {path}: No such file or directory\n"
                out.return_code = 1
    elif name == "ls":
        folder = (args[0] if args else "/tmp").rstrip("/") + "/"
        out.stdout = "".join(p[len(folder) :] + "\n" for p in sorted(files) if p.startswith(folder))
    else:
        return Run(
            stderr=f"bash: {name}: not one of the reference server's test commands "
            "(echo, printf, cat, ls); it does not run arbitrary code\n",
            return_code=127,
        )
    if target is not None:
        files[target] = out.stdout.encode()
        out.stdout, out.written = "", [target]
    return out


def _uploads(body: dict[str, Any]) -> list[str]:
    return [
        str(b.get("file_id"))
        for m in body.get("messages") or []
        if m.get("role") == "user" and isinstance(m.get("content"), list)
        for b in m["content"]
        if isinstance(b, dict) and b.get("type") == "container_upload"
    ]


def turn(
    body: dict[str, Any], text: str, tool_id: Callable[[int], str], sandbox: Sandbox
) -> list[dict[str, Any]] | None:
    """The blocks of a turn that runs the user's backquoted commands, or None when it does not
    (no bash code execution tool, ``tool_choice: none``, or no command to run)."""
    if tool(body) is None or (body.get("tool_choice") or {}).get("type") == "none":
        return None
    todo = commands(text)
    if not todo:
        return None
    wanted = container_id(body)
    box = sandbox.containers.get(wanted) if wanted else None
    if box is None:
        box = Container(sandbox.new_container_id())
        sandbox.containers[box.id] = box
    for file_id in _uploads(body):
        found = sandbox.read_file(file_id)
        if found is not None:
            box.files[f"{INPUT_DIR}/{found[0]}"] = found[1]
    box.expires_at = (sandbox.now + LIFETIME).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    sandbox.used = box
    blocks: list[dict[str, Any]] = []
    outputs: list[str] = []
    for command in todo:
        server_id = catalog.ID_PREFIXES["server_tool_use"] + tool_id(len(blocks)).split("_", 1)[1]
        done = run(command, box.files)
        made = [
            {
                "type": "bash_code_execution_output",
                "file_id": sandbox.add_file(path.rsplit("/", 1)[-1], box.files[path]),
            }
            for path in done.written
        ]
        outputs += done.written
        blocks += [
            {
                "type": "server_tool_use",
                "id": server_id,
                "name": BASH,
                "input": {"command": command},
            },
            {
                "type": "bash_code_execution_tool_result",
                "tool_use_id": server_id,
                "content": {
                    "type": "bash_code_execution_result",
                    "stdout": done.stdout,
                    "stderr": done.stderr,
                    "return_code": done.return_code,
                    "content": made,
                },
            },
        ]
    last = blocks[-1]["content"]
    said = (
        f"The command printed: {last['stdout'].strip()}"
        if last["stdout"].strip()
        else f"The command exited with code {last['return_code']}."
    )
    if outputs:
        said += f" It wrote {', '.join(outputs)}."
    blocks.append({"type": "text", "text": said})
    return blocks


def check_request(
    body: dict[str, Any], containers: dict[str, Container], files: dict[str, Any]
) -> None:
    """The request's ``container`` exists, and so does every ``container_upload`` file."""
    check_container(body, containers)
    for file_id in _uploads(body):
        if file_id not in files:
            raise invalid(f"container_upload.file_id: File not found: {file_id}")
