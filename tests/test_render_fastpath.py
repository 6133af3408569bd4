"""The no-compile path for simple templates renders exactly what Jinja renders."""

from __future__ import annotations

import jinja2
from hypothesis import example, given, settings
from hypothesis import strategies as st
from jinja2.sandbox import ImmutableSandboxedEnvironment

from personactl.manifest.render import substitute_simple

JINJA = ImmutableSandboxedEnvironment(
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
CTX = {
    "company": "Acme",
    "n": 3,
    "ratio": 0.5,
    "flag": True,
    "nothing": None,
    "resource": {"name": "cara", "labels": {"team": "support"}, "items": "x"},
}
names = st.sampled_from(
    [
        "company",
        "n",
        "ratio",
        "flag",
        "nothing",
        "missing",
        "resource.name",
        "resource.labels.team",
        "resource.labels.nope",
        "resource.items",
        "resource.keys",
    ]
)
pieces = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=15),
    names.map(lambda n: "{{ " + n + " }}"),
    names.map(lambda n: "{{" + n + "}}"),
    st.sampled_from(
        [
            "{{",
            "}}",
            "{%",
            "%}",
            "{#",
            "#}",
            "\r\n",
            "\r",
            "{{ company|upper }}",
            "{{- company }}",
            "{{ company -}}",
            "\n",
        ]
    ),
)


def jinja_render(source: str) -> str | None:
    try:
        return JINJA.from_string(source).render(CTX)
    except (jinja2.TemplateError, TypeError):
        return None


@settings(max_examples=400, deadline=None)
@given(st.lists(pieces, max_size=8).map("".join))
@example("{{{company}}")  # found by this test: Jinja's `{{` starts before the match
def test_fast_path_matches_jinja_or_declines(source: str) -> None:
    fast = substitute_simple(source, CTX)
    if fast is not None:
        assert fast == jinja_render(source)


def test_fast_path_takes_the_common_cases() -> None:
    assert (
        substitute_simple("Hi {{ company }}, {{n}} x {{ ratio }}\r\n", CTX) == "Hi Acme, 3 x 0.5\n"
    )
    assert substitute_simple("{{ resource.labels.team }}", CTX) == "support"
    # Declined, so Jinja decides (and reports errors with its own words):
    assert substitute_simple("{{ missing }}", CTX) is None
    assert substitute_simple("{{ flag }}", CTX) is None
    assert substitute_simple("{{ resource.items }}", CTX) is None
    assert substitute_simple("{% include 'x' %}", CTX) is None
