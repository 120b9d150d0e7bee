"""Small inputs the conformance tests build themselves, so the suite ships no binary fixtures."""

from __future__ import annotations

import base64
import struct
import zlib
from typing import Any


def png(width: int = 8, height: int = 8, rgb: tuple[int, int, int] = (220, 20, 60)) -> bytes:
    """A valid, solid-colour RGB PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def image_block(data: bytes, media_type: str = "image/png") -> dict[str, Any]:
    return {
        "type": "image",
        "source": {
            "type": "base64",
            "media_type": media_type,
            "data": base64.b64encode(data).decode(),
        },
    }


#: A client tool every tool test uses; a real model calls it reliably when told to.
WEATHER_TOOL: dict[str, Any] = {
    "name": "get_weather",
    "description": "Get the current weather for a city.",
    "input_schema": {
        "type": "object",
        "properties": {"location": {"type": "string", "description": "City name"}},
        "required": ["location"],
    },
}

WEATHER_PROMPT = "What is the weather in Paris right now? Use the get_weather tool."


def blocks(message: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The content blocks of ``message`` of type ``kind``."""
    return [b for b in message.get("content") or [] if b.get("type") == kind]


def text_of(message: dict[str, Any]) -> str:
    return "".join(b.get("text", "") for b in blocks(message, "text"))


def normalized(text: str) -> str:
    """``text`` as a "Reply with exactly" check compares it: case, outer spaces, quotes and a
    final full stop do not count (a real model may add them)."""
    return text.strip().strip("\"'`").rstrip(".!").strip().lower()


def assert_said(message: dict[str, Any], expected: str) -> None:
    """The message's text is ``expected``: a proxy that loses, repeats or cuts text fails this
    where a check for non-empty text would not."""
    text = text_of(message)
    assert normalized(text) == normalized(expected), (
        f"asked to reply with exactly {expected!r}, the answer says {text!r}"
    )


def input_tokens(message: dict[str, Any]) -> int:
    """The billed input tokens of a message (``usage.input_tokens``)."""
    return int(message["usage"]["input_tokens"])


#: A prompt that asks for no tool: only a forced ``tool_choice`` makes the model call one.
NO_TOOL_PROMPT = "Do not use any tool.\nReply with exactly: no tools needed"


def pdf(pages: list[str]) -> bytes:
    """A valid, uncompressed PDF with one line of Helvetica text per page (``pages``).

    Built by hand (objects, an xref table with exact byte offsets, a trailer), so the suite
    ships no binary fixture; text with parentheses or backslashes is escaped as PDF requires.
    """
    count = len(pages)
    font = 3 + 2 * count
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        (
            "<< /Type /Pages /Kids ["
            + " ".join(f"{3 + 2 * i} 0 R" for i in range(count))
            + f"] /Count {count} >>"
        ).encode(),
    ]
    for i, text in enumerate(pages):
        objects.append(
            (
                f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents "
                f"{4 + 2 * i} 0 R /Resources << /Font << /F1 {font} 0 R >> >> >>"
            ).encode()
        )
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream = f"BT /F1 12 Tf 72 720 Td ({escaped}) Tj ET".encode("latin-1")
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
