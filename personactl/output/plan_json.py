"""The JSON view of a Plan (`plan -o json`): the versioned format of docs/plan-format.md.

Unlike a saved plan file (which keeps sentinels so apply can use it), this view
is for people and tools to read, so secrets are masked as everywhere else.
"""

from __future__ import annotations

import json
from typing import Any

from personactl.core.secrets import SENSITIVE, mask
from personactl.engine import plan as p
from personactl.output import values as v

# Stable, readable key order; keys a newer Plan adds go after these.
_TOP_KEYS = (
    "formatVersion",
    "environment",
    "backend",
    "apiUrl",
    "threeWay",
    "statePath",
    "prune",
    "summary",
    "warnings",
    "changes",
)


def _field(fc: p.FieldChange) -> dict[str, Any]:
    # The same rule as the text and Markdown views (values.shown_pair), so they agree.
    before, after = v.shown_pair(fc)
    return {
        "path": fc.path,
        "before": SENSITIVE if before is v.MASKED else before,
        "after": SENSITIVE if after is v.MASKED else after,
        "reason": fc.reason,
        "sensitive": v.is_sensitive(fc),
    }


def masked_dict(plan: p.Plan) -> dict[str, Any]:
    """plan.to_dict() with every secret hidden."""
    data = plan.to_dict()
    # A view, not an applicable plan: `apply` tells whoever hands it this one over.
    data["display"], data["digest"] = True, None
    for raw, rc in zip(data["changes"], plan.changes, strict=True):
        raw["fields"] = [_field(fc) for fc in rc.fields]
        raw["drift"] = [_field(fc) for fc in rc.drift]
    ordered = {k: data[k] for k in _TOP_KEYS if k in data}
    ordered.update({k: val for k, val in data.items() if k not in ordered})
    # One pass over everything else (request bodies, notes, warnings) as a safety net.
    masked: dict[str, Any] = mask(ordered)
    return p.pack(masked)  # each long string (a prompt) once, in `values`


def render_json(plan: p.Plan, *, color: bool = False, show_requests: bool = False) -> str:
    """`color` and `show_requests` are accepted for a uniform signature; JSON has no
    colour and always carries the requests (they are part of the format)."""
    return json.dumps(masked_dict(plan), indent=2, ensure_ascii=False) + "\n"
