"""The emulator's WSGI application: faults, auth, routing and JSON responses.

Order of work per request: latency, injected failure (before any effect),
Bearer auth (401; the presigned download URLs under `/_emulator/` carry a
signature instead), routing (404/405), the handler (400s name the field), and
for a successful POST/PUT an optional "drop after commit" (`DropConnection`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from personactl.emulator import knowledge, llms, personas, tools
from personactl.emulator.catalog import CUSTOMER_CLIENT_LLM_ID
from personactl.emulator.errors import ApiError, DropConnection, bad_request, not_found
from personactl.emulator.faults import WRITE_METHODS, FaultInjector
from personactl.emulator.multipart import Part, parse_form
from personactl.emulator.settings import DATABASE_FILE, EmulatorSettings
from personactl.emulator.store import Clock, Doc, Store, Txn
from personactl.emulator.validation import (
    PageQuery,
    parse_bool_param,
    parse_page_query,
    require_object,
)

StartResponse = Callable[..., Any]
_RENDER_STYLES = ("all", "realistic", "animated_3d", "illustrated", "unknown")
# presigned download URLs: served without the API key, signed, valid this long
FILES_PREFIX = "/_emulator/knowledge-files/"
DOWNLOAD_URL_SECONDS = 3600


# Fields a normalising server trims (settings.normalize_text).
_TRIMMED = frozenset({"systemPrompt", "description", "initialMessage"})


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    raw_body: bytes
    params: dict[str, str] = field(default_factory=dict)
    content_type: str = ""
    base_url: str = "http://localhost"  # scheme://host the client addressed

    def form(self) -> list[Part]:
        return parse_form(self.content_type, self.raw_body)

    def json(self) -> Any:
        if not self.raw_body.strip():
            raise bad_request("Request body must be a JSON object")
        try:
            return json.loads(self.raw_body)
        except (ValueError, UnicodeDecodeError):
            raise bad_request("Request body is not valid JSON") from None


@dataclass
class Response:
    status: int
    body: Any = None  # None: no body (204); bytes: sent as they are (Content-Type in headers)
    headers: list[tuple[str, str]] = field(default_factory=list)


Handler = Callable[[Request], Response]


def _paged(items: list[Doc], query: PageQuery) -> Response:
    """One page of already-filtered items in the {data, meta} envelope."""
    offset = (query.page - 1) * query.per_page
    page = items[offset : offset + query.per_page]
    return Response(200, {"data": page, "meta": _meta(len(items), query.page, query.per_page)})


def _meta(total: int, page: int, per_page: int) -> dict[str, Any]:
    last_page = max(1, -(-total // per_page))
    return {
        "total": total,
        "lastPage": last_page,
        "currentPage": page,
        "perPage": per_page,
        "prev": page - 1 if page > 1 else None,
        "next": page + 1 if page < last_page else None,
    }


class EmulatorApp:
    """WSGI callable; one instance per data directory. Thread-safe."""

    def __init__(
        self, data_dir: Path, settings: EmulatorSettings | None = None, clock: Clock = time.time
    ) -> None:
        """`clock` (seconds, as time.time) stamps writes and ages uploaded documents."""
        self.settings = settings or EmulatorSettings()
        self.store = Store(Path(data_dir) / DATABASE_FILE, clock)
        self.faults = FaultInjector(
            self.settings.fail_rates,
            self.settings.drop_after_commit,
            self.settings.seed,
            self.settings.spike_rate,
        )
        with self.store.transaction() as txn:
            self.catalog = personas.Catalog(
                avatars={d["id"]: d for d in txn.all("avatar")},
                voices={d["id"]: d for d in txn.all("voice")},
            )
        table: list[tuple[str, dict[str, Handler]]] = [
            (r"/v1/personas", {"GET": self.list_personas, "POST": self.create_persona}),
            (
                r"/v1/personas/(?P<id>[^/]+)",
                {
                    "GET": self.get_persona,
                    "PUT": self.update_persona,
                    "DELETE": self.delete_persona,
                },
            ),
            (r"/v1/tools", {"GET": self.list_tools, "POST": self.create_tool}),
            (
                r"/v1/tools/(?P<id>[^/]+)",
                {"GET": self.get_tool, "PUT": self.update_tool, "DELETE": self.delete_tool},
            ),
            (r"/v1/avatars", {"GET": self.list_avatars}),
            (r"/v1/avatars/(?P<id>[^/]+)", {"GET": self._get_catalog("avatar", "Avatar")}),
            (r"/v1/voices", {"GET": self._list_catalog("voice")}),
            (r"/v1/voices/(?P<id>[^/]+)", {"GET": self._get_catalog("voice", "Voice")}),
            (r"/v1/llms", {"GET": self.list_llms, "POST": self.create_llm}),
            (
                r"/v1/llms/(?P<id>[^/]+)",
                {"GET": self.get_llm, "PUT": self.update_llm, "DELETE": self.delete_llm},
            ),
            (r"/v1/knowledge/groups", {"GET": self.list_groups, "POST": self.create_group}),
            (
                r"/v1/knowledge/groups/(?P<id>[^/]+)",
                {
                    "GET": self.get_group,
                    "PUT": self.update_group,
                    "DELETE": self.delete_group,
                },
            ),
            (
                r"/v1/knowledge/groups/(?P<id>[^/]+)/documents",
                {"GET": self.list_documents, "POST": self.upload_document},
            ),
            (r"/v1/knowledge/groups/(?P<id>[^/]+)/search", {"POST": self.search_group}),
            (
                r"/v1/knowledge/documents/(?P<id>[^/]+)",
                {
                    "GET": self.get_document,
                    "PUT": self.rename_document,
                    "DELETE": self.delete_document,
                },
            ),
            (r"/v1/knowledge/documents/(?P<id>[^/]+)/download", {"GET": self.download_document}),
            (re.escape(FILES_PREFIX) + r"(?P<id>[^/]+)", {"GET": self.document_file}),
            (r"/v1/auth/session-token", {"POST": self.create_session_token}),
        ]
        self._routes = [(re.compile(pattern), handlers) for pattern, handlers in table]

    def close(self) -> None:
        self.store.close()

    # -- WSGI -------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = self._parse(environ)
        response = self.handle(request)
        headers = list(response.headers)
        if response.body is None:
            body = b""
        elif isinstance(response.body, bytes):
            body = response.body
        else:
            body = json.dumps(response.body, ensure_ascii=False, separators=(",", ":")).encode()
            headers.append(("Content-Type", "application/json; charset=utf-8"))
        headers.append(("Content-Length", str(len(body))))
        start_response(f"{response.status} {_reason(response.status)}", headers)
        return [body]

    @staticmethod
    def _parse(environ: dict[str, Any]) -> Request:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length > 0 else b""
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        path = environ.get("PATH_INFO") or "/"
        if len(path) > 1:
            path = path.rstrip("/")
        host = headers.get("host") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
        return Request(
            method=environ["REQUEST_METHOD"].upper(),
            path=path,
            query=parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True),
            headers=headers,
            raw_body=raw,
            content_type=environ.get("CONTENT_TYPE", ""),
            base_url=f"{environ.get('wsgi.url_scheme', 'http')}://{host}",
        )

    def handle(self, request: Request) -> Response:
        """Answer one request; raises `DropConnection` for an injected drop after commit."""
        if self.settings.latency_ms > 0:
            time.sleep(self.settings.latency_ms / 1000)
        decision = self.faults.draw(request.method)
        if decision.spike:
            time.sleep(self.settings.spike_ms / 1000)
        try:
            if decision.fail_status is not None:
                raise self._injected(decision.fail_status)
            if not request.path.startswith(FILES_PREFIX):
                self._authenticate(request)
            response = self._route(request)
        except ApiError as exc:
            return Response(exc.status, exc.body(), exc.headers)
        dropping = decision.drop_after_commit and request.method in WRITE_METHODS
        if dropping and response.status < 300:
            raise DropConnection(f"{request.method} {request.path} committed, then dropped")
        return response

    def _injected(self, status: int) -> ApiError:
        headers = []
        if status == 429:
            headers.append(("Retry-After", str(self.settings.retry_after_seconds)))
        return ApiError(status, f"Injected {status} {_reason(status)} (emulator --fail)", headers)

    def _authenticate(self, request: Request) -> None:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        expected = self.settings.api_key.encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(key.strip().encode(), expected):
            raise ApiError(401, "Invalid or missing API key")

    def _route(self, request: Request) -> Response:
        for pattern, handlers in self._routes:
            match = pattern.fullmatch(request.path)
            if match is None:
                continue
            handler = handlers.get(request.method)
            if handler is None:
                allowed = ", ".join(sorted(handlers))
                raise ApiError(
                    405,
                    f"Method {request.method} is not allowed on {request.path}",
                    [("Allow", allowed)],
                )
            request.params = match.groupdict()
            return handler(request)
        raise not_found(f"Cannot {request.method} {request.path}")

    # -- personas ---------------------------------------------------------------------

    def list_personas(self, request: Request) -> Response:
        query = parse_page_query(request.query)
        with self.store.transaction() as txn:
            offset = (query.page - 1) * query.per_page
            total, docs = txn.page("persona", query.search, offset, query.per_page)
        data = [personas.render_summary(self.catalog, doc) for doc in docs]
        return Response(200, {"data": data, "meta": _meta(total, query.page, query.per_page)})

    def _normalized(self, body: Any) -> Any:
        if not self.settings.normalize_text or not isinstance(body, dict):
            return body
        return {
            k: v.strip() if k in _TRIMMED and isinstance(v, str) else v for k, v in body.items()
        }

    def create_persona(self, request: Request) -> Response:
        body = self._normalized(request.json())
        with self.store.transaction(write=True) as txn:
            doc = personas.create_persona(txn, self.catalog, body, self.settings.hide_write_only)
        return Response(201, doc)

    @staticmethod
    def _get(txn: Txn, table: str, label: str, ident: str) -> Doc:
        """The stored resource, or the API's 404 naming its kind."""
        doc = txn.get(table, ident)
        if doc is None:
            raise not_found(f"{label} not found")
        return doc

    def _change(
        self, request: Request, table: str, label: str, write: Callable[[Txn, Doc], Any]
    ) -> Any:
        """`write` on the stored resource the request names, in one write transaction."""
        with self.store.transaction(write=True) as txn:
            return write(txn, self._get(txn, table, label, request.params["id"]))

    def _created(self, request: Request, create: Callable[[Txn, Any], Doc]) -> Response:
        """A POST: the document `create` stores from the request's body."""
        body = request.json()
        with self.store.transaction(write=True) as txn:
            return Response(201, create(txn, body))

    def _updated(
        self, request: Request, table: str, label: str, update: Callable[[Txn, Doc, Any], Doc]
    ) -> Response:
        """A PUT of the resource the request names, answered with the updated document."""
        body = request.json()
        return Response(200, self._change(request, table, label, lambda t, d: update(t, d, body)))

    def get_persona(self, request: Request) -> Response:
        with self.store.transaction() as txn:
            doc = self._get(txn, "persona", "Persona", request.params["id"])
            rendered = personas.render_persona(
                txn, self.catalog, doc, self.settings.hide_write_only
            )
        return Response(200, rendered)

    def update_persona(self, request: Request) -> Response:
        with self.store.transaction(write=True) as txn:
            current = self._get(txn, "persona", "Persona", request.params["id"])
            body = self._normalized(request.json())
            doc = personas.update_persona(
                txn, self.catalog, current, body, self.settings.hide_write_only
            )
        return Response(200, doc)

    def delete_persona(self, request: Request) -> Response:
        with self.store.transaction(write=True) as txn:
            self._get(txn, "persona", "Persona", request.params["id"])
            txn.delete("persona", request.params["id"])
        return Response(200, {"message": "Persona deleted"})

    # -- tools ------------------------------------------------------------------------

    def list_tools(self, request: Request) -> Response:
        query = parse_page_query(request.query)
        with self.store.transaction() as txn:
            offset = (query.page - 1) * query.per_page
            total, docs = txn.page("tool", query.search, offset, query.per_page)
            counts = txn.usage_counts(doc["id"] for doc in docs)
        data = [tools.render_tool(doc, counts[doc["id"]]) for doc in docs]
        return Response(200, {"data": data, "meta": _meta(total, query.page, query.per_page)})

    def create_tool(self, request: Request) -> Response:
        return self._created(request, tools.create_tool)

    def get_tool(self, request: Request) -> Response:
        with self.store.transaction() as txn:
            doc = self._get(txn, "tool", "Tool", request.params["id"])
            count = txn.usage_counts([doc["id"]])[doc["id"]]
        return Response(200, tools.render_tool(doc, count))

    def update_tool(self, request: Request) -> Response:
        return self._updated(request, "tool", "Tool", tools.update_tool)

    def delete_tool(self, request: Request) -> Response:
        # soft delete: the tool disappears and is detached from every persona
        with self.store.transaction(write=True) as txn:
            self._get(txn, "tool", "Tool", request.params["id"])
            txn.delete("tool", request.params["id"])
        return Response(204)

    # -- catalog ----------------------------------------------------------------------

    def list_avatars(self, request: Request) -> Response:
        style = (request.query.get("renderStyle") or ["all"])[-1]
        if style not in _RENDER_STYLES:
            raise bad_request(
                f"renderStyle must be one of the following values: {', '.join(_RENDER_STYLES)}"
            )
        if style == "all":
            return self._list_catalog("avatar")(request)
        query = parse_page_query(request.query)
        needle = (query.search or "").casefold()
        with self.store.transaction() as txn:
            matching = [
                doc
                for doc in txn.all("avatar")
                if doc["renderStyle"] == style and needle in doc["displayName"].casefold()
            ]
        return _paged(matching, query)

    def _list_catalog(self, kind: str) -> Handler:
        def handler(request: Request) -> Response:
            query = parse_page_query(request.query)
            with self.store.transaction() as txn:
                offset = (query.page - 1) * query.per_page
                total, docs = txn.page(kind, query.search, offset, query.per_page)
            return Response(200, {"data": docs, "meta": _meta(total, query.page, query.per_page)})

        return handler

    def _get_catalog(self, kind: str, label: str) -> Handler:
        def handler(request: Request) -> Response:
            with self.store.transaction() as txn:
                doc = txn.get(kind, request.params["id"])
            if doc is None:
                raise not_found(f"{label} not found")
            return Response(200, doc)

        return handler

    # -- LLMs -------------------------------------------------------------------------

    def list_llms(self, request: Request) -> Response:
        query = parse_page_query(request.query)
        # the document does not give the default; true keeps the stock catalog resolvable
        defaults = parse_bool_param(request.query, "includeDefaults", True)
        needle = (query.search or "").casefold()
        with self.store.transaction() as txn:
            matching = [
                llms.render_llm(doc)
                for doc in txn.all("llm")
                if (defaults or not llms.is_default(doc))
                and needle in doc["displayName"].casefold()
            ]
        return _paged(matching, query)

    def create_llm(self, request: Request) -> Response:
        return self._created(request, llms.create_llm)

    def get_llm(self, request: Request) -> Response:
        with self.store.transaction() as txn:
            doc = self._get(txn, "llm", "LLM", request.params["id"])
        return Response(200, llms.render_llm(doc))

    def update_llm(self, request: Request) -> Response:
        return self._updated(request, "llm", "LLM", llms.update_llm)

    def delete_llm(self, request: Request) -> Response:
        # personas keep their llmId: the document says nothing of what deletion does to them
        self._change(request, "llm", "LLM", llms.delete_llm)
        return Response(204)

    # -- knowledge groups -------------------------------------------------------------

    def list_groups(self, request: Request) -> Response:
        # the spec documents a bare array here, not the {data, meta} envelope
        with self.store.transaction() as txn:
            return Response(200, knowledge.render_groups(txn, txn.all("knowledge_group")))

    def create_group(self, request: Request) -> Response:
        return self._created(request, knowledge.create_group)

    def get_group(self, request: Request) -> Response:
        with self.store.transaction() as txn:
            doc = knowledge.group(txn, request.params["id"])
            return Response(200, knowledge.render_groups(txn, [doc])[0])

    def update_group(self, request: Request) -> Response:
        body = request.json()
        with self.store.transaction(write=True) as txn:
            return Response(200, knowledge.update_group(txn, request.params["id"], body))

    def delete_group(self, request: Request) -> Response:
        # its documents go with it; SERVER_RAG tools keep the id, as tools keep deleted ids
        with self.store.transaction(write=True) as txn:
            knowledge.group(txn, request.params["id"])
            txn.delete("knowledge_group", request.params["id"])
        return Response(204)

    # -- knowledge documents ----------------------------------------------------------

    def _processing(self, txn: Txn) -> knowledge.Processing:
        return knowledge.Processing(txn.now_ms(), self.settings.processing_ms)

    def list_documents(self, request: Request) -> Response:
        with self.store.transaction() as txn:
            knowledge.group(txn, request.params["id"])
            at = self._processing(txn)
            docs = txn.documents(request.params["id"])
        return Response(200, [knowledge.render_document(doc, at) for doc in docs])

    def upload_document(self, request: Request) -> Response:
        with self.store.transaction(write=True) as txn:
            knowledge.group(txn, request.params["id"])  # a 404 before any 400 on the body
            parts = request.form()
            doc = knowledge.upload_document(txn, request.params["id"], parts)
        return Response(201, knowledge.render_upload(doc))

    def get_document(self, request: Request) -> Response:
        with self.store.transaction() as txn:
            doc = knowledge.document(txn, request.params["id"])
            return Response(200, knowledge.render_document(doc, self._processing(txn)))

    def rename_document(self, request: Request) -> Response:
        body = request.json()
        with self.store.transaction(write=True) as txn:
            doc = knowledge.rename_document(txn, request.params["id"], body)
            return Response(200, knowledge.render_document(doc, self._processing(txn)))

    def delete_document(self, request: Request) -> Response:
        with self.store.transaction(write=True) as txn:
            knowledge.document(txn, request.params["id"])
            txn.delete_document(request.params["id"])
        return Response(204)

    def search_group(self, request: Request) -> Response:
        body = request.json()
        with self.store.transaction() as txn:
            at = self._processing(txn)
            return Response(200, knowledge.search(txn, request.params["id"], body, at))

    @staticmethod
    def _signature(key: bytes, document_id: str, expires: str) -> str:
        return hmac.new(key, f"{document_id}:{expires}".encode(), hashlib.sha256).hexdigest()

    def download_document(self, request: Request) -> Response:
        """A presigned URL to the stored bytes, as the document's download answer."""
        document_id = request.params["id"]
        with self.store.transaction() as txn:
            doc = knowledge.document(txn, document_id)
            expires = str(-(-txn.now_ms() // 1000) + DOWNLOAD_URL_SECONDS)  # at least that long
            signature = self._signature(txn.signing_key(), document_id, expires)
        query = urlencode({"expires": expires, "signature": signature})
        url = f"{request.base_url}{FILES_PREFIX}{quote(document_id)}?{query}"
        return Response(200, {"downloadUrl": url, "filename": doc["filename"]})

    def document_file(self, request: Request) -> Response:
        document_id = request.params["id"]
        expires = (request.query.get("expires") or [""])[-1]
        given = (request.query.get("signature") or [""])[-1]
        with self.store.transaction() as txn:
            expected = self._signature(txn.signing_key(), document_id, expires)
            if not hmac.compare_digest(given.encode(), expected.encode()):
                raise ApiError(403, "The download URL's signature is invalid")
            if not expires.isdigit() or int(expires) * 1000 < txn.now_ms():
                raise ApiError(
                    403,
                    "The download URL has expired; "
                    f"GET /v1/knowledge/documents/{document_id}/download for a new one",
                )
            doc = knowledge.document(txn, document_id)
            content = txn.document_content(document_id)
        disposition = f"attachment; filename*=UTF-8''{quote(doc['filename'])}"
        headers = [("Content-Type", doc["fileType"]), ("Content-Disposition", disposition)]
        return Response(200, content, headers)

    # -- session tokens ---------------------------------------------------------------

    def create_session_token(self, request: Request) -> Response:
        body = require_object(request.json())
        config = body.get("personaConfig")
        if not isinstance(config, dict):
            raise bad_request("personaConfig must be an object")
        if "personaId" in config:
            persona_id = config["personaId"]
            if not isinstance(persona_id, str):
                raise bad_request("personaConfig.personaId must be a string")
            with self.store.transaction() as txn:
                if txn.get("persona", persona_id) is None:
                    raise bad_request(
                        f"personaConfig.personaId '{persona_id}' does not match any persona"
                    )
        else:
            self._check_ephemeral(config)
        return Response(200, {"sessionToken": f"emu_{secrets.token_urlsafe(32)}"})

    def _check_ephemeral(self, config: dict[str, Any]) -> None:
        problems: list[str] = []
        with self.store.transaction() as txn:
            known_llms = {d["id"]: d for d in txn.all("llm")}  # stock and custom
        refs = (
            ("avatarId", self.catalog.avatars, "avatar"),
            ("voiceId", self.catalog.voices, "voice"),
            ("llmId", known_llms, "LLM"),
        )
        for key, known, label in refs:
            value = config.get(key)
            if value is None or (key == "llmId" and value == CUSTOMER_CLIENT_LLM_ID):
                continue
            if not isinstance(value, str) or value not in known:
                problems.append(f"personaConfig.{key} '{value}' does not match any {label}")
        if problems:
            raise bad_request("; ".join(problems))


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
