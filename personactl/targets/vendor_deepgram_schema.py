"""Regenerate `deepgram_settings.schema.json` from Deepgram's AsyncAPI document.

    python -m personactl.targets.vendor_deepgram_schema ../shared/reference/deepgram-asyncapi.yml

Takes the `AgentV1_AgentV1Settings` schema (the Voice Agent `Settings`
message) and every component it references, rewrites
`#/components/schemas/X` references to `#/$defs/X`, strips descriptions, and
writes a standalone JSON Schema (draft 2020-12). Nothing else is changed, so
the vendored file validates exactly what the AsyncAPI document says.
A test checks that the committed file equals this script's output.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = "AgentV1_AgentV1Settings"
OUT = Path(__file__).resolve().parent / "deepgram_settings.schema.json"
_PREFIX = "#/components/schemas/"
_DROP = {"description", "title"}


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_PREFIX):
            found.add(ref[len(_PREFIX) :])
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def _clean(node: Any, in_properties: bool = False) -> Any:
    """The node without descriptions/titles, with references rewritten to $defs."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if not in_properties and key in _DROP:
                continue
            if key == "$ref" and isinstance(value, str) and value.startswith(_PREFIX):
                out[key] = "#/$defs/" + value[len(_PREFIX) :]
                # A sibling of $ref that only documents it adds nothing.
                continue
            out[key] = _clean(value, in_properties=(key == "properties" and not in_properties))
        if "$ref" in out:
            return {k: v for k, v in out.items() if k not in ("default",)}
        return out
    if isinstance(node, list):
        return [_clean(v) for v in node]
    return node


def build(asyncapi: dict[str, Any]) -> dict[str, Any]:
    components: dict[str, Any] = asyncapi["components"]["schemas"]
    needed: set[str] = set()
    todo = [ROOT]
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        needed.add(name)
        todo.extend(sorted(_refs(components[name]) - needed))
    root = _clean(components[ROOT])
    defs = {name: _clean(components[name]) for name in sorted(needed - {ROOT})}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": (
            "Vendored from Deepgram's AsyncAPI document (schema AgentV1_AgentV1Settings) by "
            "personactl/targets/vendor_deepgram_schema.py; do not edit by hand."
        ),
        "title": "Deepgram Voice Agent Settings message",
        **root,
        "$defs": defs,
    }


def render(asyncapi_path: Path) -> str:
    import yaml

    doc = yaml.safe_load(asyncapi_path.read_text(encoding="utf-8"))
    return json.dumps(build(doc), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 1
    OUT.write_text(render(Path(argv[0])), encoding="utf-8")
    print(f"wrote {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
