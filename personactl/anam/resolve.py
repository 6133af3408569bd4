"""Resolve stage: names in manifests -> Anam ids, and desired request bodies.

Avatars by `{name, variant}` or id, voices and LLMs by display name or id
(`CUSTOMER_CLIENT_V1` for no LLM), tools by manifest name or id, knowledge
folders by name or id. A name that matches nothing lists the closest names;
a name that matches several lists the candidates with their ids. Once the
voice is known its provider's option family checks `voiceGeneration`.

A tool that will be created by the same apply has no id yet: its place in
`toolIds` holds `⟦ref:Tool:<name>⟧`, which apply replaces with the new id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from personactl.anam.kinds import NO_LLM
from personactl.core import voice_families
from personactl.core.errors import Diagnostic, Location
from personactl.core.kinds import Field, Kind
from personactl.core.refs import REF
from personactl.core.refs import ref as ref_to
from personactl.core.suggest import closest, did_you_mean
from personactl.manifest.render import Rendered


@dataclass
class Catalog:
    """What manifests can reference, as listed by the API."""

    avatars: list[dict[str, Any]] = field(default_factory=list)
    voices: list[dict[str, Any]] = field(default_factory=list)
    llms: list[dict[str, Any]] = field(default_factory=list)
    knowledge: list[dict[str, Any]] = field(default_factory=list)
    tools: list[dict[str, Any]] = field(default_factory=list)  # live tools

    def by_id(self, items: list[dict[str, Any]], value: Any) -> dict[str, Any] | None:
        for item in items:
            if item.get("id") == value:
                return item
        return None


# Where a reference is, asked for only when it is wrong: a location deeper than
# `spec.<field>` costs a second parse of its file (yamlsource.SHALLOW).
Where = Callable[[], Location]

_CATALOG = {"avatar": "avatars", "voice": "voices", "LLM": "llms", "knowledge folder": "knowledge"}


def _see(what: str) -> str:
    """Where to look: `what` is "voice", "LLM", "avatar 'Liv' variant", ..."""
    kind = next((k for w, k in _CATALOG.items() if what.startswith(w)), None)
    return f"; see `personactl catalog {kind}`" if kind else ""


def _suggest(name: str, candidates: list[str]) -> str:
    unique = closest(name, candidates, substrings=True)
    return f"; closest: {', '.join(repr(u) for u in unique)}" if unique else ""


class Resolver:
    """Resolves one environment's rendered resources against a catalog."""

    def __init__(
        self,
        catalog: Catalog,
        tool_ids: dict[str, str | None],
        llm_ids: dict[str, str | None] | None = None,
        group_ids: dict[str, str | None] | None = None,
    ) -> None:
        self.catalog = catalog
        # Tool (LLM) manifest name -> live id (None: it will be created by this apply).
        self.tool_ids = tool_ids
        self.llm_ids = llm_ids or {}
        # KnowledgeGroup manifest name -> live id (None: created by this apply).
        self.group_ids = group_ids or {}

    # -- references ---------------------------------------------------------------------

    def _by_name(
        self,
        what: str,
        items: list[dict[str, Any]],
        name: str,
        at: Location,
        key: str = "displayName",
        describe: Any = None,
    ) -> tuple[dict[str, Any] | None, Diagnostic | None]:
        matches = [i for i in items if i.get(key) == name]
        if not matches:
            matches = [i for i in items if str(i.get(key, "")).casefold() == name.casefold()]
        if len(matches) == 1:
            return matches[0], None
        if not matches:
            names = sorted({str(i.get(key)) for i in items if i.get(key)})
            return None, Diagnostic.at(
                at,
                f"{what} {name!r} not found in the catalog{_suggest(name, names)}{_see(what)}",
                "resolve",
            )
        listing = ", ".join(
            (describe(m) if describe else str(m.get(key))) + f" ({m.get('id')})" for m in matches
        )
        return None, Diagnostic.at(
            at, f"{what} {name!r} is ambiguous: {listing}; use {{id: ...}}", "resolve-ambiguous"
        )

    def _by_id(
        self, what: str, items: list[dict[str, Any]], ident: str, at: Location
    ) -> tuple[dict[str, Any] | None, Diagnostic | None]:
        found = self.catalog.by_id(items, ident)
        if found is None:
            return None, Diagnostic.at(at, f"{what} id {ident!r} not found{_see(what)}", "resolve")
        return found, None

    def avatar(self, ref: Any, at: Location) -> tuple[dict[str, Any] | None, Diagnostic | None]:
        items = self.catalog.avatars
        if "id" in ref:
            return self._by_id("avatar", items, ref["id"], at)
        name, variant = ref["name"], ref.get("variant")
        family = [a for a in items if str(a.get("displayName", "")).casefold() == name.casefold()]
        if not family:
            return self._by_name("avatar", items, name, at)
        if variant is None:
            if len(family) == 1:
                return family[0], None
            listing = ", ".join(f"{a.get('variantName')} ({a.get('id')})" for a in family)
            return None, Diagnostic.at(
                at,
                f"avatar {name!r} has several variants: {listing}; add `variant:`",
                "resolve-ambiguous",
            )
        return self._by_name(
            f"avatar {name!r} variant",
            family,
            variant,
            at,
            key="variantName",
            describe=lambda a: f"{a.get('displayName')} / {a.get('variantName')}",
        )

    def voice(self, ref: Any, at: Location) -> tuple[dict[str, Any] | None, Diagnostic | None]:
        if "id" in ref:
            return self._by_id("voice", self.catalog.voices, ref["id"], at)
        return self._by_name(
            "voice",
            self.catalog.voices,
            ref["name"],
            at,
            describe=lambda v: f"{v.get('displayName')} [{v.get('provider')}]",
        )

    def llm(self, ref: Any, at: Location) -> tuple[str | None, Diagnostic | None]:
        if ref == NO_LLM or (isinstance(ref, dict) and ref.get("id") == NO_LLM):
            return NO_LLM, None
        if isinstance(ref, str):  # an LLM manifest's metadata.name
            if ref not in self.llm_ids:
                return None, Diagnostic.at(
                    at,
                    f"LLM {ref!r} is not defined by any LLM manifest"
                    f"{did_you_mean(ref, set(self.llm_ids))}; name an LLM manifest, or use "
                    "{name: <catalog name>} or {id: <llm id>}",
                    "llm-reference",
                )
            return self.llm_ids[ref] or ref_to("LLM", ref), None
        if "id" in ref:
            found, err = self._by_id("LLM", self.catalog.llms, ref["id"], at)
        else:
            found, err = self._by_name("LLM", self.catalog.llms, ref["name"], at)
        return (found.get("id") if found else None), err

    def tool(self, ref: Any, where: Where) -> tuple[str | None, Diagnostic | None]:
        if isinstance(ref, dict):
            ident = ref["id"]
            if self.catalog.by_id(self.catalog.tools, ident) is None:
                return None, Diagnostic.at(
                    where(),
                    f"tool id {ident!r} not found; see `personactl catalog tools`",
                    "resolve",
                )
            return ident, None
        if ref not in self.tool_ids:  # validate reports this; keep going
            return None, Diagnostic.at(
                where(), f"tool {ref!r} is not defined by any Tool manifest", "tool-reference"
            )
        return self.tool_ids[ref] or ref_to("Tool", ref), None

    def folder(self, ref: Any, where: Where) -> tuple[str | None, Diagnostic | None]:
        items = self.catalog.knowledge
        if isinstance(ref, str) and ref in self.group_ids:  # a KnowledgeGroup manifest
            return self.group_ids[ref] or ref_to("KnowledgeGroup", ref), None
        at = where()
        if isinstance(ref, dict):
            found, err = self._by_id("knowledge folder", items, ref["id"], at)
        else:
            found, err = self._by_name("knowledge folder", items, ref, at, key="name")
            if found is None and err is not None and err.rule == "resolve":
                names = sorted({*self.group_ids, *(str(i.get("name")) for i in items)})
                err = Diagnostic.at(
                    at,
                    f"knowledge folder {ref!r} is neither a KnowledgeGroup manifest nor a live "
                    f"knowledge group{did_you_mean(ref, names)}; "
                    "see `personactl catalog knowledge`",
                    "resolve",
                )
        return (found.get("id") if found else None), err

    # -- bodies -------------------------------------------------------------------------

    def body(self, kind: Kind, r: Rendered) -> tuple[dict[str, Any], list[Diagnostic]]:
        """The full desired body (every field the manifest sets) in API vocabulary,
        with every reference resolved to an id."""
        spec = r.desired_spec(mask=False)
        body: dict[str, Any] = {kind.name_key: r.anam_name}
        diags: list[Diagnostic] = []
        for f in kind.fields:
            if f.manifest not in spec:
                continue
            value, errs = self._value(f, spec, r)
            diags.extend(errs)
            if value is not None or f.ref is None:
                body[f.body] = value
        return body, diags

    def _value(self, f: Field, spec: dict[str, Any], r: Rendered) -> tuple[Any, list[Diagnostic]]:
        """One field's body value: as written, or the id (ids) its reference names."""
        value, res = spec[f.manifest], r.resource
        at = res.loc(("spec", f.manifest))
        if f.ref == "avatar":
            found, err = self.avatar(value, at)
            return (found["id"] if found else None), [
                *([err] if err else []),
                *(self._check_model(r, found, spec.get("avatarModel")) if found else []),
            ]
        if f.ref == "voice":
            found, err = self.voice(value, at)
            checks = (
                self._check_options(r, found, spec["voiceGeneration"])
                if found and "voiceGeneration" in spec
                else []
            )
            return (found["id"] if found else None), [*([err] if err else []), *checks]
        if f.ref == "LLM":
            ident, err = self.llm(value, at)
            return ident, [err] if err else []
        if f.ref == "Tool":
            ids, diags = [], []
            for i, ref_ in enumerate(value):
                ident, err = self.tool(ref_, partial(res.loc, ("spec", f.manifest, i)))
                diags += [err] if err else []
                if ident:
                    ids.append(ident)
            return sorted(set(ids)), diags
        if f.folders and isinstance(value, dict) and f.folders[0] in value:
            return self._with_folder_ids(f, value, r)
        return value, []

    def _with_folder_ids(
        self, f: Field, value: dict[str, Any], r: Rendered
    ) -> tuple[dict[str, Any], list[Diagnostic]]:
        """A tool config naming knowledge folders: the same with their ids."""
        names_key, ids_key = f.folders
        config = dict(value)
        ids, diags = [], []
        for i, ref_ in enumerate(config.pop(names_key)):
            where = partial(r.resource.loc, ("spec", f.manifest, names_key, i))
            ident, err = self.folder(ref_, where)
            if err:
                diags.append(err)
            elif ident:
                ids.append(ident)
        config[ids_key] = ids
        return config, diags

    def _check_model(self, r: Rendered, avatar: dict[str, Any], model: Any) -> list[Diagnostic]:
        versions = avatar.get("availableVersions")
        if not model or not isinstance(versions, list) or model in versions:
            return []
        return [
            Diagnostic.at(
                r.resource.loc(("spec", "avatarModel")),
                f"avatar {avatar.get('displayName')!r} / {avatar.get('variantName')!r} "
                f"does not support avatarModel {model!r} (it supports {', '.join(versions)})",
                "avatar-model",
            )
        ]

    def _check_options(self, r: Rendered, voice: dict[str, Any], options: Any) -> list[Diagnostic]:
        family = voice_families.family_for_voice(
            voice.get("provider"), voice.get("providerModelId")
        )
        res = r.resource
        name = voice.get("displayName")
        if family is None:
            return [
                Diagnostic.at(
                    res.loc(("spec", "voiceGeneration")),
                    f"voice {name!r} ({voice.get('provider')}) takes no voiceGeneration options; "
                    "remove spec.voiceGeneration",
                    "voice-options",
                )
            ]
        out = []
        allowed = voice_families.allowed_keys(family)
        for problem in voice_families.check_generation_options(family, options):
            key = (
                next(
                    (k for k in options if repr(k) in problem or problem.startswith(f"{k} ")), None
                )
                if isinstance(options, dict)
                else None
            )
            path = ("spec", "voiceGeneration", key) if key else ("spec", "voiceGeneration")
            out.append(
                Diagnostic.at(
                    res.loc(path),
                    f"voiceGeneration for voice {name!r}: {problem} (allowed: "
                    f"{', '.join(sorted(allowed))})",
                    "voice-options",
                )
            )
        return out

    # -- labels for people -----------------------------------------------------------------

    def _folder_label(self, ident: Any) -> Any:
        made = REF.match(ident) if isinstance(ident, str) else None
        if made:
            return made.group(2)
        found = self.catalog.by_id(self.catalog.knowledge, ident)
        return found.get("name", ident) if found else ident

    def label(self, body_key: str, value: Any, tool_names: dict[str, str]) -> Any:
        """A body value as the manifest would say it (names rather than ids)."""
        if value is None:
            return None
        if body_key == "avatarId":
            a = self.catalog.by_id(self.catalog.avatars, value) or {}
            return {"id": value, "name": a.get("displayName"), "variant": a.get("variantName")}
        if body_key == "voiceId":
            v = self.catalog.by_id(self.catalog.voices, value) or {}
            return {"id": value, "name": v.get("displayName")}
        if body_key == "llmId":
            if value == NO_LLM:
                return NO_LLM
            made = REF.match(value) if isinstance(value, str) else None
            if made:  # created (or replaced) by this apply: its id is known after
                return {"id": "known after apply", "name": made.group(2)}
            m = self.catalog.by_id(self.catalog.llms, value) or {}
            return {"id": value, "name": m.get("displayName")}
        if body_key == "config" and isinstance(value, dict):
            folders = value.get("documentFolderIds")
            if isinstance(folders, list):  # knowledge groups by name, as the manifest says
                names = [self._folder_label(ident) for ident in folders]
                value = {**value, "documentFolderIds": names}
            return value
        if body_key == "toolIds" and isinstance(value, list):
            out = []
            for ident in value:
                made = REF.match(ident)
                out.append(made.group(2) if made else tool_names.get(ident, ident))
            return sorted(out)
        return value
