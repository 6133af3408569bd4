"""Knowledge groups, their documents and a keyword search (schemas KnowledgeGroup,
KnowledgeDocument, KnowledgeSearchResult).

A document's status is computed from its upload time on every read, never by
a background thread: `PROCESSING` for `processing_ms` after the upload (the
upload's own response says `PROCESSING`, as the document says a new record
starts), then `READY`, or `FAILED` with an `errorMessage` when the file is
empty, of an unsupported type, or has no extractable text.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from personactl.emulator.errors import bad_request, not_found
from personactl.emulator.extract import MAX_FILE_BYTES, extract, file_type
from personactl.emulator.multipart import Part
from personactl.emulator.store import Doc, Txn, format_timestamp
from personactl.emulator.validation import (
    DOCUMENT_PUT_FIELDS,
    KNOWLEDGE_GROUP_FIELDS,
    SEARCH_DEFAULT_LIMIT,
    SEARCH_FIELDS,
    UPLOAD_DEFAULTS,
    UPLOAD_PARAMETERS,
    check_fields,
    parse_int,
    raise_if,
    require_object,
)

_STORAGE = "s3://anam-emulator-knowledge"  # fileUrl: where the file "is stored", internally
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Processing:
    """What a read needs to tell a document's status."""

    now_ms: int
    processing_ms: float


# -- groups -------------------------------------------------------------------------------


def group(txn: Txn, group_id: str) -> Doc:
    doc = txn.get("knowledge_group", group_id)
    if doc is None:
        raise not_found("Knowledge group not found")
    return doc


def render_groups(txn: Txn, docs: list[Doc]) -> list[Doc]:
    counts = txn.document_counts(doc["id"] for doc in docs)
    return [{**doc, "documentCount": counts[doc["id"]]} for doc in docs]


def _group_fields(body: Any, *, creating: bool) -> dict[str, Any]:
    body = require_object(body)
    problems = check_fields(body, KNOWLEDGE_GROUP_FIELDS, strict=False)
    if creating and "name" not in body:
        problems.insert(0, "name is required")
    raise_if(problems)
    return {key: body[key] for key in KNOWLEDGE_GROUP_FIELDS if key in body}


def create_group(txn: Txn, body: Any) -> Doc:
    fields = _group_fields(body, creating=True)
    stamp = txn.next_timestamp()
    doc: Doc = {
        "id": str(uuid.uuid4()),
        "name": fields["name"],
        "description": fields.get("description"),
        "documentCount": 0,
        "createdAt": stamp,
        "updatedAt": stamp,
    }
    txn.put("knowledge_group", doc, doc["name"])
    return doc


def update_group(txn: Txn, group_id: str, body: Any) -> Doc:
    doc = dict(group(txn, group_id))
    doc.update(_group_fields(body, creating=False))
    doc["updatedAt"] = txn.next_timestamp()
    txn.put("knowledge_group", doc, doc["name"])
    (rendered,) = render_groups(txn, [doc])
    return rendered


# -- documents ----------------------------------------------------------------------------


def document(txn: Txn, document_id: str) -> Doc:
    doc = txn.get_document(document_id)
    if doc is None:
        raise not_found("Document not found")
    return doc


def render_upload(doc: Doc) -> Doc:
    """The public record as the upload answers it: "starts in `PROCESSING` state"."""
    public = {key: value for key, value in doc.items() if not key.startswith("_")}
    return {**public, "status": "PROCESSING", "errorMessage": None}


def _settled(doc: Doc, at: Processing) -> bool:
    uploaded_ms: int = doc["_uploadedMs"]
    return at.now_ms - uploaded_ms >= at.processing_ms


def render_document(doc: Doc, at: Processing) -> Doc:
    """The public record, with the status (and updatedAt) the read time gives it."""
    if not _settled(doc, at):
        return render_upload(doc)
    failure = doc["_failure"]
    done = format_timestamp(doc["_uploadedMs"] + int(at.processing_ms))
    return {
        **render_upload(doc),
        "status": "FAILED" if failure else "READY",
        "errorMessage": failure,
        "updatedAt": max(doc["updatedAt"], done),  # same-format ISO strings sort as times
    }


def is_ready(doc: Doc, at: Processing) -> bool:
    return _settled(doc, at) and doc["_failure"] is None


def _upload_parameters(parts: list[Part]) -> dict[str, int]:
    values = dict(UPLOAD_DEFAULTS)
    for part in parts:
        if part.name in UPLOAD_PARAMETERS and part.filename is None:
            text = part.content.decode("utf-8", errors="replace")
            values[part.name] = parse_int(part.name, text, 1 if part.name == "chunkSize" else 0)
    if values["chunkOverlap"] >= values["chunkSize"]:
        raise bad_request("chunkOverlap must be less than chunkSize")
    return values


def _file_part(parts: list[Part]) -> Part:
    files = [part for part in parts if part.name == "file"]
    if not files:
        raise bad_request("file is required")
    if len(files) > 1:
        raise bad_request("file must be sent once; upload one document per request")
    (part,) = files
    if not part.filename:
        raise bad_request("file must be a file upload with a filename")
    if len(part.content) > MAX_FILE_BYTES:
        raise bad_request("file must not be larger than 50 MB")
    return part


def upload_document(txn: Txn, group_id: str, parts: list[Part]) -> Doc:
    """Store the upload in the existing group `group_id`; the caller checked it exists."""
    part = _file_part(parts)
    chunking = _upload_parameters(parts)
    filename = PurePosixPath(part.filename.replace("\\", "/")).name if part.filename else ""
    extracted = extract(filename, part.content)
    uploaded_ms = txn.next_ms()
    stamp = format_timestamp(uploaded_ms)
    document_id = str(uuid.uuid4())
    doc: Doc = {
        "id": document_id,
        "knowledgeFolderId": group_id,
        "filename": filename,
        "fileType": file_type(filename, part.content_type),
        "fileSize": len(part.content),
        "fileUrl": f"{_STORAGE}/{group_id}/{document_id}",
        "createdAt": stamp,
        "updatedAt": stamp,
        "_uploadedMs": uploaded_ms,
        "_failure": extracted.failure,
        "_chunkSize": chunking["chunkSize"],
        "_chunkOverlap": chunking["chunkOverlap"],
    }
    txn.put_document(doc, part.content, extracted.text)
    return doc


def rename_document(txn: Txn, document_id: str, body: Any) -> Doc:
    doc = dict(document(txn, document_id))
    body = require_object(body)
    problems = check_fields(body, DOCUMENT_PUT_FIELDS, strict=False)
    if not problems and body.get("filename") == "":
        problems = ["filename must not be empty"]
    raise_if(problems)
    # only the name changes: "the stored file and its extracted chunks are unchanged"
    doc.update({key: body[key] for key in DOCUMENT_PUT_FIELDS if key in body})
    doc["updatedAt"] = txn.next_timestamp()
    txn.update_document(doc)
    return doc


# -- search -------------------------------------------------------------------------------


def _chunks(text: str, size: int, overlap: int) -> list[str]:
    step = size - overlap
    starts = range(0, max(len(text) - overlap, 1), step)
    return [text[start : start + size] for start in starts]


def _search_body(body: Any) -> tuple[list[str], int]:
    body = require_object(body)
    problems = [] if "query" in body else ["query is required"]
    problems += check_fields(body, SEARCH_FIELDS, strict=False)
    if not problems and not body["query"].strip():
        problems = ["query must not be empty"]
    raise_if(problems)
    terms = list(dict.fromkeys(_WORD.findall(body["query"].casefold())))
    return terms, body.get("limit", SEARCH_DEFAULT_LIMIT)


def search(txn: Txn, group_id: str, body: Any, at: Processing) -> list[Doc]:
    """Chunks of READY documents ranked by the share of the query's words they contain."""
    group(txn, group_id)
    terms, limit = _search_body(body)
    scored: list[tuple[float, int, Doc]] = []
    for doc, text in txn.documents_with_text(group_id):
        if not terms or not is_ready(doc, at):
            continue
        for index, chunk in enumerate(_chunks(text, doc["_chunkSize"], doc["_chunkOverlap"])):
            words = set(_WORD.findall(chunk.casefold()))
            hits = sum(term in words for term in terms)
            if hits:
                result = {
                    "documentId": doc["id"],
                    "filename": doc["filename"],
                    "content": chunk,
                    "score": round(hits / len(terms), 4),
                    "chunkIndex": index,
                    "metadata": {"fileType": doc["fileType"]},
                }
                scored.append((-result["score"], len(scored), result))
    scored.sort(key=lambda item: item[:2])  # best first; ties keep upload and chunk order
    return [result for _, _, result in scored[:limit]]
