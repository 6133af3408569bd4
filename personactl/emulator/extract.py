"""File types the knowledge upload accepts, and the text the emulator extracts from them.

Enough for a keyword search, not a full parser: plain text is decoded as
UTF-8; a PDF's text is read from the literal strings its (optionally
Flate-compressed) content streams show with Tj/TJ; a DOCX's from the
`w:t` runs of word/document.xml. A file that yields no text fails, with the
reason the document's `errorMessage` will carry.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from dataclasses import dataclass
from io import BytesIO
from pathlib import PurePosixPath
from xml.etree import ElementTree

# extension -> MIME type: "PDF, TXT, MD, DOCX, CSV" (the upload's description)
FILE_TYPES: dict[str, str] = {
    ".pdf": "application/pdf",
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".csv": "text/csv",
}
MAX_FILE_BYTES = 50 * 1024 * 1024  # "up to 50MB"
_MAX_XML_BYTES = 200 * 1024 * 1024  # a DOCX whose XML inflates past this is refused (zip bomb)
_WORD_NS = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_STREAM = re.compile(rb"\bstream\r?\n(.*?)\r?\n?endstream", re.DOTALL)
_TEXT_BLOCK = re.compile(rb"BT\b(.*?)\bET\b", re.DOTALL)
_SHOW = re.compile(rb"(\((?:\\.|[^\\)])*\))\s*(?:Tj|'|\")|\[((?:\\.|[^\]\\])*)\]\s*TJ", re.DOTALL)
_LITERAL = re.compile(rb"\((?:\\.|[^\\)])*\)", re.DOTALL)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


@dataclass(frozen=True)
class Extracted:
    text: str
    failure: str | None  # the errorMessage of a document that will end FAILED


def file_type(filename: str, declared: str) -> str:
    """The MIME type from the extension; the part's own type for an unsupported one."""
    return FILE_TYPES.get(extension(filename), declared or "application/octet-stream")


def extension(filename: str) -> str:
    return PurePosixPath(filename.replace("\\", "/")).suffix.lower()


def extract(filename: str, content: bytes) -> Extracted:
    ext = extension(filename)
    if ext not in FILE_TYPES:
        shown = f"'{ext}'" if ext else "without an extension"
        return Extracted(
            "", f"Unsupported file type {shown}; upload a PDF, TXT, MD, DOCX or CSV file"
        )
    if not content:
        return Extracted("", "The file is empty")
    if ext == ".pdf":
        return _pdf(content)
    if ext == ".docx":
        return _docx(content)
    text = content.decode("utf-8-sig", errors="replace")
    return Extracted(text, None if text.strip() else "The file contains no text")


def _unescape(literal: bytes) -> bytes:
    def one(match: re.Match[bytes]) -> bytes:
        token = match.group(1)
        if token[:1].isdigit():
            return bytes([int(token, 8) & 0xFF])
        return _ESCAPES.get(token, token if token not in b"\r\n" else b"")

    return re.sub(rb"\\([0-7]{1,3}|.)", one, literal[1:-1], flags=re.DOTALL)


def _pdf_lines(stream: bytes) -> list[str]:
    lines: list[str] = []
    for block in _TEXT_BLOCK.findall(stream):
        for single, array in _SHOW.findall(block):
            literals = [single] if single else _LITERAL.findall(array)
            shown = b"".join(_unescape(literal) for literal in literals)
            lines.append(shown.decode("latin-1"))
    return lines


def _pdf(content: bytes) -> Extracted:
    if not content.startswith(b"%PDF-"):
        return Extracted("", "The file is not a valid PDF")
    lines: list[str] = []
    for match in _STREAM.finditer(content):
        stream = match.group(1)
        dictionary = content[content.rfind(b"obj", 0, match.start()) : match.start()]
        if b"/FlateDecode" in dictionary:
            try:
                stream = zlib.decompress(stream)
            except zlib.error:
                continue
        lines += _pdf_lines(stream)
    text = "\n".join(line for line in lines if line.strip())
    return Extracted(text, None if text else "No text could be extracted from the PDF")


def _docx(content: bytes) -> Extracted:
    try:
        with zipfile.ZipFile(BytesIO(content)) as archive:
            info = archive.getinfo("word/document.xml")
            if info.file_size > _MAX_XML_BYTES:
                return Extracted("", "The DOCX document is too large to process")
            root = ElementTree.fromstring(archive.read(info))
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, ValueError):
        return Extracted("", "The file is not a valid DOCX document")
    paragraphs = [
        "".join(run.text or "" for run in paragraph.iter(f"{_WORD_NS}t"))
        for paragraph in root.iter(f"{_WORD_NS}p")
    ]
    text = "\n".join(p for p in paragraphs if p.strip())
    return Extracted(text, None if text else "The file contains no text")
