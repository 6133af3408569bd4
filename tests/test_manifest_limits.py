"""Limits on templates and prompt files: hostile input fails fast, with bounded
memory, as one error at the line that went over the limit."""

from __future__ import annotations

import json
import os
import resource
from pathlib import Path

import pytest
from cli_support import WriteFiles, run_cli, run_inprocess


def _cap_memory() -> None:
    limit = 512 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def persona(name: str, prompt: str) -> str:
    return (
        "apiVersion: personactl/v1\nkind: Persona\n"
        f"metadata: {{name: {name}}}\nspec:\n  prompt:\n{prompt}"
    )


def inline(name: str, template: str) -> str:
    return persona(name, f"    text: {json.dumps(template)}\n")


def from_file(name: str, file: str) -> str:
    return persona(name, f"    file: {file}\n")


OVER = "a rendered value may be at most 1,048,576 bytes, so make the template produce less"

# (template, the error validate reports at personas/NAME.yaml:6:11)
HOSTILE = {
    "huge-range": (
        "{% for i in range(10000000000) %}x{% endfor %}",
        "range() would make 10,000,000,000 items, over the limit of 100,000; loop over fewer items",
    ),
    "string-times": (
        "{{ 'a' * 3000000000 }}",
        f"the rendered prompt is over 1 MiB ('*' would be 3,000,000,000 characters long); {OVER}",
    ),
    "list-times": (
        "{{ [0] * 3000000000 }}",
        f"the rendered prompt is over 1 MiB ('*' would be 3,000,000,000 characters long); {OVER}",
    ),
    "nested-loops-silent": (
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "the template runs more than 1,000,000 steps (loop iterations, calls, operators, filters "
        "and includes); simplify its loops",
    ),
    "nested-loops-output": (
        "{% for i in range(100000) %}{% for j in range(100000) %}xy{% endfor %}{% endfor %}",
        f"the rendered prompt is over 1 MiB; {OVER}",
    ),
    "captured-output": (
        "{% set x %}{% for i in range(10000) %}{{ 'a' * 1000000 }}{% endfor %}{% endset %}",
        "the rendered prompt is over 1 MiB (the captured output would be 2,000,000 characters "
        f"long); {OVER}",
    ),
    "tilde-doubling": (
        "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
        "{% endfor %}",
        f"the rendered prompt is over 1 MiB ('~' would be 2,097,152 characters long); {OVER}",
    ),
    "center-filter": (
        "{{ 'x'|center(3000000000) }}",
        "the rendered prompt is over 1 MiB (the 'center' filter's result would be 3,000,000,000 "
        f"characters long); {OVER}",
    ),
    "join-filter": (
        "{{ range(100000)|join('a' * 1000000) }}",
        "the rendered prompt is over 1 MiB (the 'join' result would be 99,999,488,890 characters "
        f"long); {OVER}",
    ),
    "replace-filter": (
        "{{ ('a' * 1000000)|replace('a', 'aaaa') }}",
        "the rendered prompt is over 1 MiB (the 'replace' filter's result would be 4,000,000 "
        f"characters long); {OVER}",
    ),
    "str-method": (
        "{{ 'x'.ljust(3000000000) }}",
        f"the rendered prompt is over 1 MiB (str.ljust() would be 3,000,000,000 characters "
        f"long); {OVER}",
    ),
    "format-width": (
        "{{ '{:>3000000000}'.format(1) }}",
        "the rendered prompt is over 1 MiB (a format width would be 3,000,000,000 characters "
        f"long); {OVER}",
    ),
    "percent-width": (
        "{{ '%3000000000s' % 'x' }}",
        "the rendered prompt is over 1 MiB (a format width would be 3,000,000,000 characters "
        f"long); {OVER}",
    ),
    "kept-lists": (
        "{% set ns = namespace(l=[]) %}{% for i in range(100000) %}"
        "{% set ns.l = ns.l + [range(100000)|list] %}{% endfor %}",
        "the template builds more than 256 MiB of strings and lists while rendering one value; "
        "build less",
    ),
    "huge-number": (
        "{{ 9 ** 999999999 }}",
        "'**' would build a number of more than 4,300 digits; use smaller numbers",
    ),
    "lipsum": (
        "{{ lipsum(1000000000) }}",
        "the rendered prompt is over 1 MiB (lipsum() would be 1,200,000,000,000 characters "
        f"long); {OVER}",
    ),
}


def test_hostile_templates_fail_fast_within_bounded_memory(tmp_path: Path) -> None:
    for name, (template, _) in HOSTILE.items():
        path = tmp_path / "personas" / f"{name}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(inline(name, template))
    # 512 MB of address space: any of these expanded even once would not fit.
    r = run_cli(["validate"], cwd=tmp_path, subprocess=True, preexec_fn=_cap_memory)
    assert r.code == 1, r.err
    assert r.lines == [
        f"personas/{name}.yaml:6:11: {message}" for name, (_, message) in sorted(HOSTILE.items())
    ] + [f"{len(HOSTILE)} errors in {len(HOSTILE)} files"]
    assert r.err == ""


def test_a_3_gb_prompt_file_is_refused_without_reading_it(write: WriteFiles) -> None:
    root = write({"personas/p.yaml": from_file("p", "../prompts/huge.md")})
    (root / "prompts").mkdir()
    with open(root / "prompts" / "huge.md", "wb") as f:
        f.truncate(3 * 2**30)  # sparse: takes no disk space
    r = run_cli(["validate"], cwd=root, subprocess=True, preexec_fn=_cap_memory)
    assert r.code == 1
    assert r.lines == [
        "personas/p.yaml:6:11: prompt file '../prompts/huge.md' is 3,221,225,472 bytes, over "
        "the 1 MiB (1,048,576-byte) limit for prompt files and templates; shorten it",
        "1 error in 1 file",
    ]


def test_an_oversized_partial_is_refused_at_its_include(write: WriteFiles) -> None:
    root = write(
        {
            "personas/p.yaml": from_file("p", "../prompts/main.md.j2"),
            "prompts/main.md.j2": "Intro.\n{% include 'partials/big.md' %}\n",
        }
    )
    (root / "prompts" / "partials").mkdir()
    with open(root / "prompts" / "partials" / "big.md", "wb") as f:
        f.truncate(2 * 2**20)
    r = run_inprocess(["validate"], root)
    assert r.lines == [
        "prompts/main.md.j2:2:1: template 'partials/big.md' is 2,097,152 bytes, over the 1 MiB "
        "(1,048,576-byte) limit for prompt files and templates; shorten it",
        "1 error in 1 file",
    ]


def test_a_long_literal_value_is_refused_too(write: WriteFiles) -> None:
    root = write({"personas/p.yaml": inline("p", "x" * (2**20 + 1))})
    r = run_inprocess(["validate"], root)
    assert r.lines == [f"personas/p.yaml:6:11: the rendered prompt is over 1 MiB; {OVER}"] + [
        "1 error in 1 file"
    ]


@pytest.mark.parametrize(
    ("partials", "expected"),
    [
        ({"prompts/loop.md.j2": "Hi.\n{% include 'loop.md.j2' %}\n"}, "prompts/loop.md.j2:2:1"),
        (
            {
                "prompts/loop.md.j2": "{% include 'b.md.j2' %}",
                "prompts/b.md.j2": "B\n\n{% include 'loop.md.j2' %}",
            },
            "prompts/b.md.j2:3:1",
        ),
    ],
    ids=["self", "mutual"],
)
def test_recursive_includes_are_refused(
    write: WriteFiles, partials: dict[str, str | bytes], expected: str
) -> None:
    root = write({"personas/p.yaml": from_file("p", "../prompts/loop.md.j2"), **partials})
    r = run_inprocess(["validate"], root)
    assert r.lines == [
        f"{expected}: templates include each other more than 32 levels deep (does a template "
        "include itself?); break the loop",
        "1 error in 1 file",
    ]


def test_a_fifo_is_not_a_regular_file_and_never_blocks(write: WriteFiles) -> None:
    root = write(
        {
            "personas/p.yaml": from_file("p", "../prompts/fifo.md"),
            "personas/q.yaml": from_file("q", "../prompts/q.md.j2"),
            "prompts/q.md.j2": "{% include 'partials/fifo.md' %}",
            "prompts/dir.md/README": "a directory, not a prompt\n",
            "personas/r.yaml": from_file("r", "../prompts/dir.md"),
        }
    )
    (root / "prompts" / "partials").mkdir()
    os.mkfifo(root / "prompts" / "fifo.md")
    os.mkfifo(root / "prompts" / "partials" / "fifo.md")
    # A subprocess with a timeout: opening a FIFO for reading would block forever.
    r = run_cli(["validate"], cwd=root)
    assert r.lines == [
        "personas/p.yaml:6:11: prompt file '../prompts/fifo.md' is not a regular file (a FIFO); "
        "point it at a file",
        "personas/r.yaml:6:11: prompt file '../prompts/dir.md' is not a regular file (a "
        "directory); point it at a file",
        "prompts/q.md.j2:1:1: template 'partials/fifo.md' is not a regular file (a FIFO); point "
        "it at a file",
        "3 errors in 3 files",
    ]


def test_ordinary_templates_render_as_jinja_does(write: WriteFiles) -> None:
    """The limits change nothing for templates within them."""
    template = (
        "{% for x in ['a', 'b', 'c'] %}{{ loop.index }}/{{ loop.length }}{{ x ~ '!' }}"
        "{% if loop.last %}.{% endif %} {% else %}none{% endfor %}|"
        "{% for x in [] %}x{% else %}empty{% endfor %}|"
        "{% for k, v in {'k': 1}.items() %}{{ k }}={{ v }}{% endfor %}|"
        "{{ 'ab' * 2 }} {{ [1] + [2] }} {{ 2 ** 10 }} {{ '%5s|%-3d' % ('x', 7) }} "
        "{{ '{:>4}'.format('y') }} {{ 'a,b'|replace(',', ', ') }} {{ [1, 2]|join('-') }} "
        "{{ 'x'|center(5) }}|{{ [[1], [2]]|sum(start=[]) }} {{ 'hi'.upper() }}"
        "{% set cap %}captured{% endset %} {{ cap }}"
        "{% macro m(n) %}<{{ n }}>{% endmacro %} {{ m(1) }}"
    )
    root = write({"personas/p.yaml": inline("p", template)})
    r = run_inprocess(["render", "-o", "json"], root)
    assert r.code == 0, r.err
    (doc,) = json.loads(r.out)
    assert doc["spec"]["prompt"] == (
        "1/3a! 2/3b! 3/3c!. |empty|k=1|abab [1, 2] 1024     x|7   "
        "   y a, b 1-2   x  |[1, 2] HI captured <1>"
    )
