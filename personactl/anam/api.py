"""The Anam API's endpoints, typed: the one module that knows the `/v1/...` paths.

    api = AnamApi(client)
    personas = api.personas()                   # every page
    persona = api.persona(ident)                 # one resource (an object with an id)
    created = api.create("Tool", body)           # OutcomeUnknown if the answer was lost
    voices = api.listing("voices")               # a catalog list by name

Everything else speaks of kinds ("Persona", "Tool") and list names
("personas", "tools", "avatars", "voices", "llms", "knowledge"). `AnamApi`
also implements the writes `engine.apply.Api` needs. Importing this module
costs nothing: the HTTP client comes in as an argument.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from functools import partialmethod
from typing import TYPE_CHECKING, Any, TypeVar

from personactl.anam.errors import ApiError, NotFound

if TYPE_CHECKING:
    from personactl.anam.client import AnamClient, Outcome

# Where each kind lives.
RESOURCE_PATHS = {
    "Persona": "/v1/personas",
    "Tool": "/v1/tools",
    "LLM": "/v1/llms",
    "KnowledgeGroup": "/v1/knowledge/groups",
}
DOCUMENT_PATH = "/v1/knowledge/documents"

# Every list by the name commands and manifests use for it.
LIST_PATHS = {
    "personas": RESOURCE_PATHS["Persona"],
    "tools": RESOURCE_PATHS["Tool"],
    "avatars": "/v1/avatars",
    "voices": "/v1/voices",
    "llms": RESOURCE_PATHS["LLM"],
    "knowledge": RESOURCE_PATHS["KnowledgeGroup"],
}
# Lists whose endpoint takes no `search` (it answers a bare array).
UNSEARCHABLE = frozenset({"knowledge"})

SESSION_TOKEN_PATH = "/v1/auth/session-token"

Resource = dict[str, Any]
T = TypeVar("T")
R = TypeVar("R")


def resource_path(kind: str, ident: str | None = None) -> str:
    """The collection of a kind, or one resource of it."""
    base = RESOURCE_PATHS[kind]
    return f"{base}/{ident}" if ident else base


class AnamApi:
    """Typed calls over an `AnamClient`; the client's owner closes it."""

    def __init__(self, client: AnamClient) -> None:
        self.client = client

    def map_concurrent(self, fn: Callable[[T], R], items: Iterable[T]) -> list[Outcome[R]]:
        """`fn(item)` for every item, as many at once as the client's parallelism allows."""
        return self.client.map_concurrent(fn, items)

    # -- lists ------------------------------------------------------------------------

    def listing(
        self,
        name: str,
        search: str | None = None,
        on_page: Callable[[list[Resource]], None] | None = None,
    ) -> list[Resource]:
        """Every item of the list `name` (see LIST_PATHS); `search` where the API takes one;
        `on_page` hears of each page's items as they arrive."""
        params = {"search": search} if search and name not in UNSEARCHABLE else None
        return self.client.list_all(LIST_PATHS[name], params, on_page)

    # `listing` of each list, by the list's name
    personas = partialmethod(listing, "personas")
    tools = partialmethod(listing, "tools")
    avatars = partialmethod(listing, "avatars")
    voices = partialmethod(listing, "voices")
    llms = partialmethod(listing, "llms")
    knowledge_groups = partialmethod(listing, "knowledge")

    # -- one resource -----------------------------------------------------------------

    def get(self, kind: str, ident: str) -> Resource:
        """A persona or tool by id; `NotFound` when there is none."""
        return self.client.get_resource(resource_path(kind, ident))

    def persona(self, ident: str) -> Resource:
        return self.get("Persona", ident)

    def tool(self, ident: str) -> Resource:
        return self.get("Tool", ident)

    def find_by_name(self, kind: str, name: str) -> list[Resource]:
        """The live resources of a kind named exactly `name` (the API's search is broader);
        never a stock LLM (the kind's identity key says which key is the name)."""
        from personactl.anam.kinds import KINDS, is_custom_llm

        key = KINDS[kind].name_key
        path = resource_path(kind)
        searchable = path not in {LIST_PATHS[n] for n in UNSEARCHABLE}
        items = self.client.list_all(path, {"search": name} if searchable else None)
        return [i for i in items if i.get(key) == name and (kind != "LLM" or is_custom_llm(i))]

    # -- writes (engine.apply.Api) ----------------------------------------------------

    def create(self, kind: str, body: dict[str, Any]) -> Resource:
        path = resource_path(kind)
        answer = self.client.post(path, body)  # OutcomeUnknown when it may have happened
        # Created or not, this resource fails alone (the Applier goes on with the others).
        hint = f"the {kind.lower()} may exist all the same: the next plan adopts it by name"
        return self.client.check_resource("POST", path, answer, hint=hint)

    def update(self, kind: str, ident: str, body: dict[str, Any]) -> Resource:
        path = resource_path(kind, ident)
        return self.client.check_resource("PUT", path, self.client.put(path, body))

    def delete(self, kind: str, ident: str) -> None:
        with contextlib.suppress(NotFound):  # already gone: the goal is reached
            self.client.delete(resource_path(kind, ident))

    # -- knowledge documents (engine.documents.DocumentApi) -----------------------------

    def documents(self, group_id: str) -> list[Resource]:
        """The documents of a knowledge group (a bare array: one request)."""
        return self.client.list_all(f"{resource_path('KnowledgeGroup', group_id)}/documents")

    def upload_document(
        self, group_id: str, filename: str, content: bytes, params: dict[str, int]
    ) -> Resource:
        """Upload one file (multipart/form-data); OutcomeUnknown if the answer was lost."""
        path = f"{resource_path('KnowledgeGroup', group_id)}/documents"
        fields = {key: str(value) for key, value in params.items()}
        answer = self.client.upload(path, filename, content, fields)
        hint = "the document may exist all the same: the next plan finds it by file name"
        return self.client.check_resource("POST", path, answer, hint=hint)

    def delete_document(self, ident: str) -> None:
        with contextlib.suppress(NotFound):  # already gone: the goal is reached
            self.client.delete(f"{DOCUMENT_PATH}/{ident}")

    def download_document(self, ident: str) -> bytes:
        """A document's stored bytes, through the presigned URL the API hands out."""
        answer = self.client.get(f"{DOCUMENT_PATH}/{ident}/download")
        url = answer.get("downloadUrl") if isinstance(answer, dict) else None
        if not isinstance(url, str) or not url:
            path = f"{DOCUMENT_PATH}/{ident}/download"
            raise ApiError(f"GET {path} answered no downloadUrl", method="GET", path=path)
        return self.client.fetch_bytes(url)

    # -- sessions ---------------------------------------------------------------------

    def session_token(self, persona_id: str) -> Any:
        """Ask for a session token for a persona (the answer as the API gives it).

        Nothing is created that a retry could duplicate, so a lost answer is asked again."""
        body = {"personaConfig": {"personaId": persona_id}}
        return self.client.post(SESSION_TOKEN_PATH, body, idempotent=True)
