"""Writes minimal, valid one-page PDF files with Latin text (for tests)."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import List, Optional, Text


def write_pdf(path: Path, lines: List[Text], script: Optional[Text] = None,
              padding_mb: int = 0) -> None:
    """Writes a PDF whose page shows `lines` (ASCII) in Helvetica; `script`: a
    JavaScript action run when the document opens (in a reader that runs them);
    `padding_mb`: the page's content stream is compressed (FlateDecode) and expands
    by that many megabytes of spaces (a compression bomb)."""
    text_ops = ["BT", "/F1 12 Tf", "72 720 Td", "14 TL"]
    for line in lines:
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        text_ops.append(f"({escaped}) Tj T*")
    text_ops.append("ET")
    stream = "\n".join(text_ops).encode("latin-1")
    stream_dict = b""
    if padding_mb:
        packer = zlib.compressobj(9)
        packed = packer.compress(stream + b"\n")
        for _ in range(padding_mb):
            packed += packer.compress(b" " * (1024 * 1024))
        stream, stream_dict = packed + packer.flush(), b" /Filter /FlateDecode"
    action = b""
    if script is not None:
        escaped_script = script.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        action = b" /OpenAction << /S /JavaScript /JS (" + escaped_script.encode() + b") >>"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R" + action + b" >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length " + str(len(stream)).encode() + stream_dict + b" >>\nstream\n" + stream
        + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    ).encode()
    path.write_bytes(bytes(out))
