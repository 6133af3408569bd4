"""Import: live personas and their tools -> manifests that plan as no change.

References become names where the name finds exactly that catalog entry
(ids otherwise), each prompt goes to its own file under `prompts/`, and text
that looks like a Jinja template is wrapped in `{% raw %}` so it is sent back
verbatim. Secrets never reach the disk: where the state recorded a sentinel
in a text, the live text is matched against the text last sent and each
secret becomes a `{{ secret("NAME") }}` call again; webhook headers that look
like credentials become such calls too, with a name made from the header.

Live names are not trusted: file names are slugs of them (`file_stems`), and
a name that cannot be a manifest's `metadata.name` is reported, not written.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from personactl.anam.kinds import LLM, NO_LLM, PERSONA, TOOL
from personactl.anam.resolve import Catalog
from personactl.core.errors import Location
from personactl.core.secrets import SENTINEL, has_secret
from personactl.manifest.render import _VERBATIM as NOT_RENDERED  # sent as written
from personactl.manifest.schemas import validate_document

_MARKERS = ("{{", "{%", "{#")
_SECRET_HEADER = re.compile(r"auth|token|key|secret|password|cookie", re.IGNORECASE)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
STEM_MAX = 64
# Names Windows keeps for devices, whatever the extension.
_DEVICES = {"con", "prn", "aux", "nul", *(f"{d}{i}" for d in ("com", "lpt") for i in range(10))}


@dataclass
class Imported:
    kind: str
    name: str  # manifest name (the environment's prefix/suffix removed)
    doc: dict[str, Any]
    prompt: str | None = None  # the prompt file's content (Personas)
    secrets: list[str] = field(default_factory=list)  # env vars the user must set
    # (field, secret names): texts that held secrets when last applied but changed since.
    changed: list[tuple[str, list[str]]] = field(default_factory=list)
    documents: dict[str, bytes] = field(default_factory=dict)  # a group's files by name


def manifest_name(anam_name: str, prefix: str, suffix: str) -> str | None:
    """The manifest name of a live name, or None if the environment could not manage it
    (the name lacks its prefix or suffix, so the next plan would create another)."""
    if len(anam_name) < len(prefix) + len(suffix):
        return None
    if not (anam_name.startswith(prefix) and anam_name.endswith(suffix)):
        return None
    return anam_name[len(prefix) : len(anam_name) - len(suffix)]


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a manifest name beyond what the schema says, if it cannot."""
    bad = next((c for c in name if not c.isprintable()), None)
    if bad is not None:
        return f"its name holds the unprintable character U+{ord(bad):04X}"
    return None


def schema_problems(doc: dict[str, Any]) -> list[str]:
    """What the manifest schema says against a document, as `field: problem` phrases."""
    nowhere = Location("", 0, 0)
    found = validate_document(doc["kind"], doc, lambda _: nowhere, lambda _: nowhere, set())
    return [d.message for d in found]


def _slug(name: str, fallback: str) -> str:
    """A file name stem: ASCII letters, digits, '-', '_', '.'; no leading dot, bounded."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    stem = re.sub("-{2,}", "-", _UNSAFE.sub("-", text))[:STEM_MAX].strip(".-")
    if stem.split(".")[0].lower() in _DEVICES:
        stem = "_" + stem
    return stem or fallback


def file_stems(names: list[str], fallback: str) -> dict[str, str]:
    """A distinct file name stem for each name, the same on every run.

    A name that is a safe stem as it is keeps it; names whose stems clash
    (ignoring case, for case-insensitive file systems) get the first 8 hex
    digits of the name's sha256 appended instead.
    """
    stems = {n: _slug(n, fallback) for n in names}
    groups: dict[str, list[str]] = {}
    for n, stem in stems.items():
        groups.setdefault(stem.casefold(), []).append(n)
    out = {}
    for n, stem in stems.items():
        group = groups[stem.casefold()]
        as_is = [m for m in group if stems[m] == m]
        if len(group) == 1 or as_is == [n]:
            out[n] = stem
        else:
            digest = hashlib.sha256(n.encode()).hexdigest()[:8]
            out[n] = f"{stem[: STEM_MAX - 9]}-{digest}"
    return out


def verbatim(text: str, before_tag: bool = False) -> str:
    """Text that renders to itself through personactl's Jinja settings.

    `{%+ endraw %}` keeps lstrip_blocks from eating trailing white space.
    `before_tag`: a `{{ ... }}` follows, so a trailing `{` must not start a tag.
    """
    if not any(m in text for m in _MARKERS) and not (before_tag and text.endswith("{")):
        return text
    pieces = text.split("{% endraw %}")
    raw = ["{% raw %}" + piece + "{%+ endraw %}" if piece else "" for piece in pieces]
    return "{{ '{% endraw %}' }}".join(raw)


def secret_call(name: str) -> str:
    return '{{ secret("' + name + '") }}'


def unsecret(live: str, applied: str) -> tuple[str, list[str]] | None:
    """`live` as template text with `secret()` calls where `applied` (the text last
    sent, sentinels in place of secrets) had them; None if the text changed since."""
    literals, names, pos = [], [], 0
    for m in SENTINEL.finditer(applied):
        literals.append(applied[pos : m.start()])
        names.append(m.group(1))
        pos = m.end()
    literals.append(applied[pos:])
    # Cheap rejections first: the regex backtracks over the whole text.
    if not (live.startswith(literals[0]) and live.endswith(literals[-1])):
        return None
    found = re.fullmatch("(.*?)".join(map(re.escape, literals)), live, re.DOTALL)
    if found is None:
        return None
    values: dict[str, str] = {}
    if any(values.setdefault(n, v) != v for n, v in zip(names, found.groups(), strict=True)):
        return None  # one secret, two values: not the text that was sent
    pairs = zip(literals[:-1], names, strict=True)
    calls = [verbatim(lit, before_tag=True) + secret_call(n) for lit, n in pairs]
    return "".join(calls) + verbatim(literals[-1]), names


def _at(value: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


@dataclass
class Texts:
    """Live strings of one resource -> template text, using its state entry's `applied`."""

    applied: dict[str, Any]
    out: Imported

    def recover(self, live: str, body_path: tuple[str, ...]) -> str | None:
        """The template text with the secrets the state knows at `body_path`, if it matches."""
        sent = _at(self.applied, body_path)
        if not (isinstance(sent, str) and has_secret(sent)):
            return None
        found = unsecret(live, sent)
        if found is None:
            return None
        self.out.secrets.extend(found[1])
        return found[0]

    def text(self, live: str, body_path: tuple[str, ...], label: str) -> str:
        found = self.recover(live, body_path)
        if found is not None:
            return found
        sent = _at(self.applied, body_path)
        if isinstance(sent, str) and has_secret(sent):
            names = list(dict.fromkeys(m.group(1) for m in SENTINEL.finditer(sent)))
            self.out.changed.append((label, names))
        return verbatim(live)


def _unique(items: list[dict[str, Any]], pred: Any) -> bool:
    return sum(1 for i in items if pred(i)) == 1


def avatar_ref(catalog: Catalog, ident: str | None) -> dict[str, Any] | None:
    if ident is None:
        return None
    a = catalog.by_id(catalog.avatars, ident)
    if a and _unique(
        catalog.avatars,
        lambda i: (
            i.get("displayName") == a.get("displayName")
            and i.get("variantName") == a.get("variantName")
        ),
    ):
        return {"name": a["displayName"], "variant": a["variantName"]}
    return {"id": ident}


def voice_ref(catalog: Catalog, ident: str | None) -> dict[str, Any] | None:
    if ident is None:
        return None
    v = catalog.by_id(catalog.voices, ident)
    if v and _unique(catalog.voices, lambda i: i.get("displayName") == v.get("displayName")):
        return {"name": v["displayName"]}
    return {"id": ident}


def llm_ref(catalog: Catalog, ident: str | None) -> Any:
    if ident is None:
        return None
    if ident == NO_LLM:
        return NO_LLM
    m = catalog.by_id(catalog.llms, ident)
    if m and _unique(catalog.llms, lambda i: i.get("displayName") == m.get("displayName")):
        return {"name": m["displayName"]}
    return {"id": ident}


def llm_manifest(raw: dict[str, Any], name: str, applied: dict[str, Any]) -> Imported:
    """The LLM manifest of a live custom LLM. Its secret is never returned: it becomes the
    `secret()` the state recorded for it, else one named after the LLM (to be set)."""
    out = Imported("LLM", name, {})
    live = LLM.normalize(raw)
    spec: dict[str, Any] = {}
    for f in LLM.fields:
        value = live.get(f.body)
        if f.body == "secret" or value in (None, "", {}, []):
            continue
        spec[f.manifest] = value
    known = SENTINEL.fullmatch(str(applied.get("secret", "")))
    var = known.group(1) if known and known.group(1) != "_" else _env_var(name, "secret")
    spec["secret"] = secret_call(var)
    out.secrets.append(var)
    metadata = {"name": name}
    out.doc = {"apiVersion": "personactl/v1", "kind": "LLM", "metadata": metadata, "spec": spec}
    return out


def _env_var(tool: str, header: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", f"{tool}_{header}".upper()).strip("_")


def _config(config: dict[str, Any], texts: Texts, name: str) -> dict[str, Any]:
    """Config strings as template text; `bodyTemplate`/`parameters` stay as they are."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        path = ("config", key)
        if path in NOT_RENDERED:
            out[key] = value
        elif key == "headers" and isinstance(value, dict):
            out[key] = {h: _header(texts, name, h, str(v)) for h, v in value.items()}
        elif isinstance(value, str):
            out[key] = texts.text(value, path, f"config.{key}")
        else:
            out[key] = value
    return out


def _header(texts: Texts, tool: str, header: str, value: str) -> str:
    path = ("config", "headers", header)
    if not _SECRET_HEADER.search(header):
        return texts.text(value, path, f"config.headers.{header}")
    # A credential never reaches the disk: the state's secret if the value still fits it,
    # else a secret named after the header.
    known = texts.recover(value, path)
    if known is not None:
        return known
    var = _env_var(tool, header)
    texts.out.secrets.append(var)
    return secret_call(var)


def tool_manifest(
    raw: dict[str, Any], name: str, catalog: Catalog, applied: dict[str, Any]
) -> Imported:
    """The Tool manifest of a live tool; `applied` is its state entry's (or {})."""
    out = Imported("Tool", name, {})
    texts = Texts(applied, out)
    description = str(raw.get("description") or "")
    spec: dict[str, Any] = {
        "type": raw.get("type"),
        "description": texts.text(description, ("description",), "description"),
    }
    config = dict(raw.get("config") or {})
    names_key, ids_key = TOOL.by_body["config"].folders
    if ids_key in config:
        folders = []
        for ident in config.pop(ids_key) or []:
            group = catalog.by_id(catalog.knowledge, ident)
            name_of = group.get("name") if group else None
            unique = name_of and sum(1 for i in catalog.knowledge if i.get("name") == name_of) == 1
            folders.append(name_of if unique else {"id": ident})
        config[names_key] = folders
    config = _config(config, texts, name)
    if config:
        spec["config"] = config
    if raw.get("disableInterruptions"):
        spec["disableInterruptions"] = True
    out.doc = {
        "apiVersion": "personactl/v1",
        "kind": "Tool",
        "metadata": {"name": name},
        "spec": spec,
    }
    return out


ToolRef = str | dict[str, str]  # a Tool manifest's name, or {"id": ...}


def persona_manifest(
    raw: dict[str, Any],
    name: str,
    catalog: Catalog,
    tool_refs: dict[str, ToolRef],
    applied: dict[str, Any],
    prompt_file: str,
    pin: bool = False,
    llm_names: dict[str, str] | None = None,
) -> Imported:
    """The Persona manifest of a live persona; `applied` is its state entry's (or {}).

    `prompt_file` is where the prompt goes, relative to the manifest; `pin`
    writes metadata.id, for a persona whose live name is not unique; `llm_names`
    names the LLM manifests of custom LLMs (live id -> metadata.name).
    """
    out = Imported("Persona", name, {})
    texts = Texts(applied, out)
    refs: dict[str, Any] = {
        "avatar": lambda ident: avatar_ref(catalog, ident),
        "voice": lambda ident: voice_ref(catalog, ident),
        "LLM": lambda ident: (llm_names or {}).get(ident) or llm_ref(catalog, ident),
        "Tool": lambda ids: sorted(
            (tool_refs.get(t, {"id": t}) for t in ids), key=lambda r: (isinstance(r, dict), str(r))
        ),
    }
    spec: dict[str, Any] = {}
    live = PERSONA.normalize(raw)
    for f in PERSONA.fields:
        value = live.get(f.body)
        if value in (None, "", {}, []):
            continue  # unset: nothing to declare
        if f.body == "languageCode" and not (isinstance(value, str) and len(value) == 2):
            continue  # a region tag (en-US) has no ISO 639-1 equivalent to write
        if f.ref is not None:
            value = refs[f.ref](value)
            if not value:
                continue
        elif f.body == "systemPrompt" and isinstance(value, str):
            out.prompt = texts.text(value, (f.body,), f.manifest)
            value = {"file": prompt_file}
        elif f.secret_bearing and isinstance(value, str):
            value = texts.text(value, (f.body,), f.manifest)
        spec[f.manifest] = value
    metadata: dict[str, Any] = {"name": name}
    if pin:
        metadata["id"] = str(raw.get("id"))
    out.doc = {"apiVersion": "personactl/v1", "kind": "Persona", "metadata": metadata, "spec": spec}
    return out


# A document's file name as the Lab may hold it, written to disk as it is: it is the
# document's identity in its group, so it cannot be changed; anything else is skipped.
_SAFE_FILENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.,()+-]{0,199}$")
DOCUMENT_TYPES = (".pdf", ".txt", ".md", ".docx", ".csv")


def document_problem(filename: str) -> str | None:
    """Why a live document's file name cannot be written to disk as it is, if it cannot."""
    if not _SAFE_FILENAME.match(filename) or filename.split(".")[0].lower() in _DEVICES:
        return "its file name is not a plain file name"
    if not filename.lower().endswith(DOCUMENT_TYPES):
        return "it is not a PDF, TXT, MD, DOCX or CSV file"
    return None


def group_manifest(raw: dict[str, Any], name: str, documents: list[str]) -> Imported:
    """The KnowledgeGroup manifest of a live group whose documents go to `documents`
    (paths relative to the manifest)."""
    spec: dict[str, Any] = {}
    if raw.get("description"):
        spec["description"] = str(raw["description"])
    spec["documents"] = documents
    doc = {"apiVersion": "personactl/v1", "kind": "KnowledgeGroup", "metadata": {"name": name}}
    return Imported("KnowledgeGroup", name, {**doc, "spec": spec})
