"""A reference to a resource that the same apply creates, so has no id yet.

In a planned body, such a reference (a persona's tool) stands as
`⟦ref:Tool:<manifest name>⟧`; apply replaces it with the id the create returned.
"""

from __future__ import annotations

import re

REF = re.compile(r"^⟦ref:([A-Za-z]+):(.+)⟧$")


def ref(kind: str, name: str) -> str:
    return f"⟦ref:{kind}:{name}⟧"
