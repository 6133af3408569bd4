"""The pure stages between loading and diffing, called directly on the example project:
compose (environment patches and prefixes), the selection of --target/-l, and resolve
(names -> ids, through the emulator's seeded catalog, the same data the API lists)."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from personactl.anam.kinds import PERSONA, TOOL
from personactl.anam.resolve import Catalog, Resolver
from personactl.core.errors import PersonactlError
from personactl.core.refs import ref
from personactl.emulator import catalog as seeded
from personactl.manifest.checks import check
from personactl.manifest.compose import compose
from personactl.manifest.loader import Loaded, load_all
from personactl.manifest.render import Rendered
from personactl.usecases.plan import selection

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "acme-personas"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    root = tmp_path_factory.mktemp("proj") / "acme-personas"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".personactl"))
    with contextlib.chdir(root):
        yield load_all()


def _rendered(loaded: Loaded, env_name: str) -> dict[str, Rendered]:
    env = loaded.project.environment(env_name)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ACME_ORDERS_TOKEN", "unit-token")
        result = check(loaded, [env], secrets="sentinel", salt="unit-lineage")
    assert result.diagnostics == []
    return {r.name: r for r in result.rendered[env_name]}


def test_compose_applies_the_environments_patch_and_keeps_its_location(loaded: Loaded) -> None:
    prod = loaded.project.environment("production")
    composed, diags = compose(loaded.resources, loaded.project, prod)
    assert diags == []
    cara = next(r for r in composed if r.name == "support-cara")
    assert cara.spec["voiceGeneration"]["speed"] == 0.95
    where = cara.loc(("spec", "voiceGeneration", "speed"))
    assert where.path == "personactl.yaml"  # the patch, not the persona file
    untouched = next(r for r in loaded.resources if r.name == "support-cara")
    assert untouched.spec["voiceGeneration"]["speed"] == 1.05


def test_a_target_brings_the_tools_its_persona_uses(loaded: Loaded) -> None:
    select = selection(("support-cara",), ())
    assert select is not None
    chosen = select(loaded.resources)
    assert sorted((r.kind, r.name) for r in chosen) == [
        ("KnowledgeGroup", "router-manuals"),  # searched by search-manuals
        ("Persona", "support-cara"),
        ("Tool", "end-call"),
        ("Tool", "order-lookup"),
        ("Tool", "search-manuals"),
        ("Tool", "show-product"),
    ]
    assert selection((), ()) is None


def test_a_selector_that_matches_nothing_names_the_labels_in_use(loaded: Loaded) -> None:
    select = selection((), ("team=nobody",))
    assert select is not None
    with pytest.raises(PersonactlError, match=r"^no resource matches -l team=nobody \(labels"):
        select(loaded.resources)


def _resolver(tool_ids: dict[str, str | None]) -> Resolver:
    catalog = Catalog(
        avatars=seeded.avatars(),
        voices=seeded.voices(),
        llms=seeded.llms(),
        knowledge=seeded.knowledge_groups(),
    )
    return Resolver(catalog, tool_ids)


def test_a_persona_body_names_ids_and_refers_to_tools_made_in_the_same_run(
    loaded: Loaded,
) -> None:
    cara = _rendered(loaded, "sandbox")["support-cara"]
    resolver = _resolver(
        {"order-lookup": None, "show-product": "t-2", "end-call": "t-3", "search-manuals": "t-4"}
    )
    body, diags = resolver.body(PERSONA, cara)
    assert diags == []
    voice = next(v for v in seeded.voices() if v["displayName"] == "Lucy - Fresh & Casual")
    assert body["voiceId"] == voice["id"]
    assert body["toolIds"] == sorted([ref("Tool", "order-lookup"), "t-2", "t-3", "t-4"])
    assert set(body) <= PERSONA.post_keys | PERSONA.put_keys
    assert body["name"] == cara.anam_name


def test_an_unknown_voice_is_one_diagnostic_with_the_closest_names(loaded: Loaded) -> None:
    cara = _rendered(loaded, "sandbox")["support-cara"]
    cara.data["spec"]["voice"] = {"name": "Lucy"}
    try:
        tools: dict[str, str | None] = {
            "order-lookup": "t-1",
            "show-product": "t-2",
            "end-call": "t-3",
            "search-manuals": "t-4",
        }
        _, diags = _resolver(tools).body(PERSONA, cara)
    finally:
        cara.data["spec"]["voice"] = {"name": "Lucy - Fresh & Casual"}
    (diag,) = diags
    assert diag.message == (
        "voice 'Lucy' not found in the catalog; closest: 'Lucy - Fresh & Casual'; "
        "see `personactl catalog voices`"
    )


def test_a_tool_body_keeps_its_secret_as_a_sentinel(loaded: Loaded) -> None:
    orders = _rendered(loaded, "sandbox")["order-lookup"]
    body, diags = _resolver({}).body(TOOL, orders)
    assert diags == []
    auth = body["config"]["headers"]["Authorization"]
    assert auth.startswith("Bearer ⟦secret:ACME_ORDERS_TOKEN:") and "unit-token" not in auth
