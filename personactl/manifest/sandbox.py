"""A Jinja sandbox with bounded output, memory and work.

Jinja's own sandbox stops templates from reaching Python internals; it does
not stop `{{ 'a' * 3000000000 }}`, a loop nested in a loop, an include that
includes itself, or a 3 GB prompt file. Here every way a template can build a
large value is checked *before* the value is built, output is counted while
it streams, and loops, calls, filters and includes share a step budget, so a
hostile template fails fast, with bounded memory, at the line that did it.

Limits (documented in the README):
- a prompt file or included template: at most MAX_TEMPLATE_BYTES (checked with
  stat, before reading); it must be a regular file;
- a rendered value, and any string or list a template builds: MAX_OUTPUT
  (bytes for rendered output, characters or items for values inside);
- numbers: at most MAX_INT_DIGITS digits (Python's own str() limit);
- MAX_BUILT_BYTES of strings and lists built in all while rendering one value
  (a list item counts LIST_ITEM_BYTES), which bounds memory however the values
  are kept;
- MAX_STEPS loop iterations, calls, operators, filters and includes per rendered
  value, and MAX_SECONDS of rendering (a step may copy up to MAX_OUTPUT items, so
  the step count alone does not bound the time);
- range() at most MAX_RANGE items (Jinja's own sandbox limit);
- includes nested at most MAX_INCLUDE_DEPTH deep.
"""

from __future__ import annotations

import inspect
import os
import re
import sys
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from functools import update_wrapper
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

import jinja2
from jinja2 import nodes, pass_context, pass_environment
from jinja2.compiler import CodeGenerator, Frame
from jinja2.filters import make_attrgetter
from jinja2.runtime import Context
from jinja2.sandbox import MAX_RANGE, ImmutableSandboxedEnvironment

from personactl.manifest.templatefiles import (  # jinja-free: render's fast path uses them
    MAX_OUTPUT,
    TemplateLimitError,
    check_size,
    file_problem,
    read_template,
)

MAX_INT_DIGITS = 4300
MAX_STEPS = 1_000_000
MAX_INCLUDE_DEPTH = 32
MAX_SECONDS = 10.0
MAX_BUILT_BYTES = 256 * 1024 * 1024
LIST_ITEM_BYTES = 40  # a pointer and a small object

_MAX_INT_BITS = int(MAX_INT_DIGITS * 3.33)  # log2(10) bits per digit, rounded down
_ITER_FILTER = "personactl_steps"
_CONCAT_FILTER = "personactl_concat"
_SIZED = (str, list, tuple)
T = TypeVar("T")


# -- format strings: the widths in '%10s' and '{:>10}' build strings too ---------------

_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_BRACE_FIELD = re.compile(r"\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}")


def _check_widths(fmt: str, args: Iterable[Any], percent: bool) -> None:
    widths: list[str] = []
    if percent:
        for m in _PERCENT_SPEC.finditer(fmt):
            widths.extend(g for g in m.groups() if g)
    else:
        for m in _BRACE_FIELD.finditer(fmt):
            spec = m.group()[1:-1].partition(":")[2]
            widths.extend(re.findall(r"\d+", spec))
            if "{" in spec:
                widths.append("*")
    literal = max((int(w) for w in widths if w != "*"), default=0)
    check_size(literal, "a format width")
    if "*" in widths:  # the width comes from an argument
        largest = max((a for a in args if isinstance(a, int)), default=0)
        check_size(largest, "a format width")


def _format_args(right: Any) -> list[Any]:
    if isinstance(right, dict):
        return list(right.values())
    return list(right) if isinstance(right, tuple) else [right]


# -- operators -----------------------------------------------------------------------


def _int_bits(left: Any, right: Any, op: str) -> int:
    a: int = abs(left).bit_length()
    b: int = abs(right).bit_length()
    if op == "*":
        return a + b
    return a * int(right) if a > 1 and right > 0 else 0  # '**'; 0 or 1 to any power is small


def _check_binop(op: str, left: Any, right: Any) -> None:
    ints = all(isinstance(v, int) and not isinstance(v, bool) for v in (left, right))
    if ints and op in ("*", "**") and _int_bits(left, right, op) > _MAX_INT_BITS:
        raise TemplateLimitError(
            f"'{op}' would build a number of more than {MAX_INT_DIGITS:,} digits; "
            "use smaller numbers"
        )
    if op == "+" and isinstance(left, _SIZED) and isinstance(right, _SIZED):
        check_size(len(left) + len(right), "'+'")
    elif op == "*":
        seq, n = (left, right) if isinstance(left, _SIZED) else (right, left)
        if isinstance(seq, _SIZED) and isinstance(n, int):
            check_size(len(seq) * n, "'*'")
    elif op == "%" and isinstance(left, str):
        _check_widths(left, _format_args(right), percent=True)


# -- filters and str methods that can build values much larger than their input ---------
# Each estimate takes the subject string (or value) and the call's bound arguments.

Args = dict[str, Any]


def _lines(s: str) -> int:
    return s.count("\n") + 1


def _est_width(v: Any, a: Args) -> int:
    return max(len(str(v)), int(a["width"]))


def _est_indent(v: Any, a: Args) -> int:
    text, width = str(v), a["width"]
    return len(text) + _lines(text) * (len(width) if isinstance(width, str) else int(width))


def _est_wordwrap(v: Any, a: Args) -> int:
    text = str(v)
    breaks = len(text) // max(int(a["width"]), 1) + _lines(text)
    return len(text) + breaks * len(str(a["wrapstring"] or "\n"))


def _est_replace(v: Any, a: Args) -> int:
    text, old, new, count = str(v), str(a["old"]), str(a["new"]), a["count"]
    n = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        n = min(n, count)
    return len(text) + n * (len(new) - len(old))


def _est_expandtabs(v: Any, a: Args) -> int:
    return len(str(v)) + str(v).count("\t") * int(a["tabsize"])


def _est_fill(v: Any, a: Args) -> int:
    return int(a.get("linecount") or a.get("slices") or 0)  # batch/slice pad up to this many


def _est_tojson(v: Any, a: Args) -> int:
    import json

    compact = len(json.dumps(v, default=str))
    return compact * (1 + int(a["indent"])) if isinstance(a["indent"], int) else compact


_FILTER_ESTIMATES: dict[str, Callable[[Any, Args], int]] = {
    "center": _est_width,
    "indent": _est_indent,
    "wordwrap": _est_wordwrap,
    "replace": _est_replace,
    "batch": _est_fill,
    "slice": _est_fill,
    "tojson": _est_tojson,
}
_STR_METHOD_ESTIMATES: dict[str, Callable[[Any, Args], int]] = {
    "center": _est_width,
    "ljust": _est_width,
    "rjust": _est_width,
    "zfill": _est_width,
    "expandtabs": _est_expandtabs,
    "replace": _est_replace,
}


def _estimate(
    estimate: Callable[[Any, Args], int], sig: inspect.Signature, args: Any, kwargs: Any
) -> int | None:
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError:
        return None  # the call itself will fail with Jinja's or Python's message
    bound.apply_defaults()
    subject = next(iter(bound.arguments.values()))
    return estimate(subject, dict(bound.arguments))


def _check_result(env: BoundedSandbox, value: Any, what: str) -> None:
    if isinstance(value, _SIZED):
        check_size(len(value), what)
        env.charge(value)


def _limited_filter(env: BoundedSandbox, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    estimate = _FILTER_ESTIMATES.get(name)
    skip = 1 if hasattr(func, "jinja_pass_arg") else 0  # context/environment comes first
    sig = inspect.signature(func)
    sig = sig.replace(parameters=list(sig.parameters.values())[skip:])
    what = f"the '{name}' filter's result"

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        env.step()
        if estimate is not None:
            check_size(_estimate(estimate, sig, args[skip:], kwargs) or 0, what)
        result = func(*args, **kwargs)
        _check_result(env, result, what)
        return result

    return update_wrapper(wrapper, func)  # keeps jinja_pass_arg


_STR_SIGNATURES = {name: inspect.signature(getattr(str, name)) for name in _STR_METHOD_ESTIMATES}


def _check_str_method(owner: str, name: str, args: Any, kwargs: Any) -> None:
    if name in ("format", "format_map"):
        values = list(kwargs.values()) + list(args)
        if name == "format_map" and args and isinstance(args[0], dict):
            values = list(args[0].values())
        _check_widths(owner, values, percent=False)
    elif name in _STR_METHOD_ESTIMATES:
        n = _estimate(_STR_METHOD_ESTIMATES[name], _STR_SIGNATURES[name], (owner, *args), kwargs)
        check_size(n or 0, f"str.{name}()")


def _strings(env: jinja2.Environment, value: Iterable[Any], attribute: Any) -> list[str]:
    if attribute is not None:
        value = map(make_attrgetter(env, attribute), value)
    return [str(v) for v in value]


@pass_environment
def _join(env: jinja2.Environment, value: Iterable[Any], d: Any = "", attribute: Any = None) -> str:
    parts, sep = _strings(env, value, attribute), str(d)
    check_size(sum(map(len, parts)) + len(sep) * max(len(parts) - 1, 0), "the 'join' result")
    return sep.join(parts)


@pass_environment
def _sum(
    env: jinja2.Environment, iterable: Iterable[Any], attribute: Any = None, start: Any = 0
) -> Any:
    items = list(iterable if attribute is None else map(make_attrgetter(env, attribute), iterable))
    sized = [v for v in (start, *items) if isinstance(v, _SIZED)]
    check_size(sum(map(len, sized)), "the 'sum' filter's result")
    return sum(items, start)


def _format(value: Any, *args: Any, **kwargs: Any) -> str:
    _check_widths(str(value), list(kwargs.values()) or list(args), percent=True)
    return str(value) % (kwargs or args)


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # noqa: A002
    check_size(int(n) * int(max) * 12, "lipsum()")  # at most ~12 characters a word
    from jinja2.utils import generate_lorem_ipsum

    return str(generate_lorem_ipsum(n, html, min, max))


# -- the template's own loops and concatenations ------------------------------------------


@pass_context
def _count_steps(context: Context, iterable: Iterable[Any]) -> Iterator[Any]:
    env = context.environment
    assert isinstance(env, BoundedSandbox)
    for item in iterable:
        env.step()
        yield item


@pass_context
def _concat(context: Context, values: list[Any]) -> str:
    """`a ~ b`: Jinja joins these inline, out of the sandbox's reach."""
    parts = [str(v) for v in values]
    check_size(sum(map(len, parts)), "'~'")
    env = context.environment
    assert isinstance(env, BoundedSandbox)
    env.step()
    return env.charge("".join(parts))


def _range(*args: int) -> range:
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise TemplateLimitError(
            f"range() would make {len(rng):,} items, over the limit of {MAX_RANGE:,}; "
            "loop over fewer items"
        )
    return rng


class _Buffer(list[str]):
    """The output captured by `{% set x %}...{% endset %}`, a macro or a call block,
    bounded while it fills (the final join alone would come too late)."""

    def __init__(self, env: BoundedSandbox) -> None:
        super().__init__()
        self.env = env
        self.size = 0

    def _grow(self, parts: Iterable[str]) -> None:
        n = sum(map(len, parts))
        self.size += n
        check_size(self.size, "the captured output")
        self.env.charge_bytes(n)

    def append(self, part: str) -> None:
        self._grow((part,))
        super().append(part)

    def extend(self, parts: Iterable[str]) -> None:
        parts = tuple(parts)
        self._grow(parts)
        super().extend(parts)


class _CodeGenerator(CodeGenerator):
    def buffer(self, frame: Frame) -> None:
        frame.buffer = self.temporary_identifier()
        self.writeline(f"{frame.buffer} = environment.output_buffer()")


def _include_depth() -> int:
    """Template render functions on the stack: one per include (or extends) level."""
    depth = 0
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "root" and "environment" in frame.f_globals:
            depth += 1
        frame = frame.f_back  # type: ignore[assignment]
    return depth


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """ImmutableSandboxedEnvironment with the limits in this module's docstring."""

    intercepted_binops = frozenset({"+", "*", "**", "%"})
    code_generator_class = _CodeGenerator

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.steps = 0
        self.built = 0
        self.deadline = time.monotonic() + MAX_SECONDS
        self.globals["range"] = _range
        self.filters.update({"join": _join, "sum": _sum, "format": _format})
        for name, func in list(self.filters.items()):
            self.filters[name] = _limited_filter(self, name, func)
        self.filters.update({_ITER_FILTER: _count_steps, _CONCAT_FILTER: _concat})
        self.globals["lipsum"] = _lipsum

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise TemplateLimitError(
                f"the template runs more than {MAX_STEPS:,} steps (loop iterations, calls, "
                "operators, filters and includes); simplify its loops"
            )
        if not self.steps % 64 and time.monotonic() > self.deadline:
            raise TemplateLimitError(
                f"the template ran for more than {MAX_SECONDS:g} seconds; simplify it"
            )

    def output_buffer(self) -> list[str]:
        return _Buffer(self)

    def charge(self, value: T) -> T:
        """Count a string or list the template built against MAX_BUILT_BYTES."""
        if isinstance(value, str):
            self.charge_bytes(len(value))
        elif isinstance(value, (list, tuple)):
            self.charge_bytes(len(value) * LIST_ITEM_BYTES)
        return value

    def charge_bytes(self, n: int) -> None:
        self.built += n
        if self.built > MAX_BUILT_BYTES:
            raise TemplateLimitError(
                "the template builds more than 256 MiB of strings and lists while rendering "
                "one value; build less"
            )

    def concat(self, parts: Iterable[str]) -> str:
        """Joins captured output: `{% set x %}...{% endset %}`, macros, render()."""
        items = list(parts)
        check_size(sum(map(len, items)), "the captured output")
        return self.charge("".join(items))

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        self.step()
        _check_binop(operator, left, right)
        return self.charge(self.binop_table[operator](left, right))

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        __self.step()
        target = getattr(__obj, "__wrapped__", __obj)  # str.format comes wrapped by Jinja
        owner = getattr(target, "__self__", None)
        name = str(getattr(target, "__name__", ""))
        if isinstance(owner, str):
            if name == "join" and args:
                items = list(args[0])  # an iterator is consumed here, so pass the list on
                args = (items, *args[1:])
                n = sum(len(v) for v in items if isinstance(v, str))
                check_size(n + len(owner) * max(len(items) - 1, 0), "str.join()")
            _check_str_method(owner, name, args, kwargs)
        result = super().call(__context, __obj, *args, **kwargs)
        _check_result(__self, result, f"{name or 'a call'}()")
        return result

    def get_template(self, *args: Any, **kwargs: Any) -> jinja2.Template:
        self.step()
        if _include_depth() >= MAX_INCLUDE_DEPTH:
            raise TemplateLimitError(
                f"templates include each other more than {MAX_INCLUDE_DEPTH} levels deep "
                "(does a template include itself?); break the loop"
            )
        return super().get_template(*args, **kwargs)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Route every loop and every `~` through a filter that counts and caps."""
        tree = super()._parse(source, name, filename)
        for loop in list(tree.find_all(nodes.For)):
            loop.iter = nodes.Filter(
                loop.iter, _ITER_FILTER, [], [], None, None, lineno=loop.lineno
            )
        for parent in list(tree.find_all(nodes.Node)):
            for field in parent.fields:
                value = getattr(parent, field, None)
                if isinstance(value, nodes.Concat):
                    setattr(parent, field, _counted_concat(value))
                elif isinstance(value, list):
                    value[:] = [
                        _counted_concat(v) if isinstance(v, nodes.Concat) else v for v in value
                    ]
        return tree

    def render_bounded(self, template: jinja2.Template, ctx: dict[str, Any]) -> str:
        """Render with the step budget reset; stop as soon as the output passes MAX_OUTPUT."""
        self.steps = 0
        self.built = 0
        self.deadline = time.monotonic() + MAX_SECONDS
        out: list[str] = []
        size = 0
        gen = template.generate(ctx)
        assert isinstance(gen, Generator)
        for chunk in gen:
            size += len(chunk) if chunk.isascii() else len(chunk.encode("utf-8", "replace"))
            if size > MAX_OUTPUT:
                # Raised inside the template, so the traceback names the line producing it.
                gen.throw(TemplateLimitError("", sized=True))
            out.append(chunk)
        return "".join(out)


def _counted_concat(node: nodes.Concat) -> nodes.Filter:
    return nodes.Filter(
        nodes.List(node.nodes, lineno=node.lineno),
        _CONCAT_FILTER,
        [],
        [],
        None,
        None,
        lineno=node.lineno,
    )


class ProjectLoader(jinja2.BaseLoader):
    """Looks templates up in the search path and never outside the project."""

    def __init__(self, root: Path, dirs: list[Path]) -> None:
        self.root = root.resolve()
        self.dirs = [d.resolve() for d in dirs] + [self.root]

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Any]:
        parts = PurePosixPath(template.replace("\\", "/")).parts
        if template.startswith(("/", "\\")) or ".." in parts or re.match(r"^[A-Za-z]:", template):
            raise jinja2.TemplateNotFound(
                template,
                f"template {template!r} is outside the project: includes are relative to the "
                "template search path and may not be absolute or use '..'",
            )
        for folder in self.dirs:
            path = (folder / template).resolve()
            if not path.is_relative_to(self.root):
                raise jinja2.TemplateNotFound(
                    template, f"template {template!r} resolves outside the project"
                )
            if os.path.exists(path):
                problem = file_problem(path, f"template {template!r}")
                if problem:
                    raise TemplateLimitError(problem)
                mtime = path.stat().st_mtime
                source = read_template(path).decode("utf-8")
                return source, str(path), lambda p=path, m=mtime: p.stat().st_mtime == m
        searched = ", ".join(os.path.relpath(d) for d in self.dirs)
        raise jinja2.TemplateNotFound(
            template, f"template {template!r} not found in the template search path ({searched})"
        )
