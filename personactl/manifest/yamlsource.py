"""Safe YAML reading that keeps the file:line:col of every value.

PyYAML's composer gives us nodes with marks; we build plain Python data from
them ourselves so that we can (a) record a location for every key path,
(b) reject duplicate keys, which PyYAML accepts silently, (c) bound alias
expansion and nesting so a hostile file fails fast with bounded memory, and
(d) refuse tags that would construct objects.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from personactl.core.errors import Diagnostic, Location

try:  # libyaml's composer is ~10x faster; fall back to pure Python.
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]


_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_SCALAR_NODE = yaml.ScalarNode
_SEQUENCE_NODE = yaml.SequenceNode


class _Loader(_BaseLoader):
    """The safe loader, with tag resolution trimmed to what a safe loader uses: the
    composer asks for a tag on every node (60 a persona), and PyYAML's resolver also
    walks path resolvers, which a safe loader never has. Same tags, a third the cost."""

    _implicit = _BaseLoader.yaml_implicit_resolvers
    _wildcard = _implicit.get(None, [])

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is _SCALAR_NODE:
            if implicit[0]:
                resolvers = self._implicit.get(value[:1])
                if resolvers:
                    for tag, regexp in resolvers:
                        if regexp.match(value):
                            return str(tag)
                for tag, regexp in self._wildcard:  # pragma: no cover - none by default
                    if regexp.match(value):
                        return str(tag)
            return _STR
        return _SEQ if kind is _SEQUENCE_NODE else _MAP


MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_VALUES_PER_DOCUMENT = 50_000
MAX_DEPTH = 64

KeyPath = tuple[str | int, ...]

_MERGE = "tag:yaml.org,2002:merge"
# Scalars we construct; timestamps stay strings (YAML 1.2 behaviour, JSON-safe).
_SCALAR_TAGS = {
    _STR,
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_BOOL_WORDS = {"yes", "no", "on", "off", "y", "n"}


# Key paths and (line, column) pairs repeat from document to document (every persona
# has ("spec", "voice", "name")): each is kept once, not once a document.
# (Up to _SHARED_MAX of each: a long-lived process reading hostile files stays bounded.)
_PATHS: dict[KeyPath, KeyPath] = {}
_POSITIONS: dict[tuple[int, int], tuple[int, int]] = {}
_SHARED_MAX = 200_000
_KEY = "#key"
_INTERN_MAX = 64
SHALLOW = 2  # key paths this long or shorter have their location recorded at once
_intern = sys.intern


@dataclass
class Document:
    """One YAML document: its data and where each value came from."""

    path: str
    index: int  # 0-based position in a multi-document file
    data: Any
    # (line, column), 1-based; Location objects are made only when asked for.
    locs: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)
    # Key paths whose bool came from a YAML 1.1 word like `no`: a hint for errors.
    bool_words: set[KeyPath] = field(default_factory=set)
    # The file's text, while `locs` holds only where the shallow values are (paths of
    # up to SHALLOW keys: `metadata.name`, each `spec` field), not the deeper ones or
    # the keys: only an error message needs those, and asking parses the text again.
    source: str | None = None

    def _complete(self, path: KeyPath) -> dict[KeyPath, tuple[int, int]]:
        """`locs`, parsed again in full first when `path` may be one it leaves out."""
        if self.source is not None and (path[:1] == (_KEY,) or path not in self.locs):
            self.locs = parse_documents(self.source, self.path, keys=True)[self.index].locs
            self.source = None
        return self.locs

    def find(self, path: KeyPath) -> Location | None:
        found = self._complete(path).get(path)
        return Location(self.path, *found) if found else None

    def loc(self, path: KeyPath) -> Location:
        """The location of `path`, or of its nearest ancestor that has one."""
        p = tuple(path)
        locs = self._complete(p)
        while p:
            found = locs.get(p)
            if found is not None:
                return Location(self.path, *found)
            p = p[:-1]
        return Location(self.path, *locs.get((), (1, 1)))

    def key_loc(self, path: KeyPath) -> Location:
        """The location of the *key* of a mapping entry (for 'unknown key' errors)."""
        return self.find((_KEY,) + tuple(path)) or self.loc(path)


class YamlError(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def _mark_loc(path: str, mark: Any) -> Location:
    return Location(path, mark.line + 1, mark.column + 1)


class _Builder:
    def __init__(self, path: str, index: int, keys: bool) -> None:
        self.doc = Document(path, index, None)
        self.count = 0
        # Record where each key and every value is; else only the shallow values.
        self.keys = keys
        self.depth = MAX_DEPTH + 1 if keys else SHALLOW

    def fail(self, node: yaml.Node, message: str, rule: str) -> YamlError:
        return YamlError(Diagnostic.at(_mark_loc(self.doc.path, node.start_mark), message, rule))

    def build(self, node: yaml.Node, path: KeyPath, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_VALUES_PER_DOCUMENT:
            raise self.fail(
                node,
                f"document expands to more than {MAX_VALUES_PER_DOCUMENT:,} values "
                "(an alias bomb?); split it or remove the repeated aliases",
                "yaml-too-large",
            )
        if depth > MAX_DEPTH:
            raise self.fail(
                node, f"values are nested more than {MAX_DEPTH} levels deep", "yaml-too-deep"
            )
        if depth <= self.depth:  # a value's depth is its key path's length
            mark = node.start_mark
            pos = (mark.line + 1, mark.column + 1)
            if len(_PATHS) < _SHARED_MAX and len(_POSITIONS) < _SHARED_MAX:
                path = _PATHS.setdefault(path, path)
                pos = _POSITIONS.setdefault(pos, pos)
            self.doc.locs.setdefault(path, pos)
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ:
                raise self.fail(node, f"unsupported YAML tag {node.tag!r}", "yaml-tag")
            return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP:
                raise self.fail(node, f"unsupported YAML tag {node.tag!r}", "yaml-tag")
            return self.mapping(node, path, depth)
        raise self.fail(node, "unsupported YAML node", "yaml-tag")  # pragma: no cover

    def scalar(self, node: yaml.ScalarNode, path: KeyPath) -> Any:
        tag = node.tag
        if tag == _TIMESTAMP:
            return node.value
        if tag not in _SCALAR_TAGS:
            raise self.fail(
                node,
                f"unsupported YAML tag {tag!r}; only plain strings, numbers, booleans and null "
                "are allowed",
                "yaml-tag",
            )
        if tag == _STR:
            value = node.value
            # Short strings repeat across documents (a voice name, a language): share them.
            return _intern(value) if len(value) <= _INTERN_MAX else value
        value = _SCALARS[tag](node)
        if tag == "tag:yaml.org,2002:bool" and node.value.lower() in _BOOL_WORDS:
            self.doc.bool_words.add(path)
        return value

    def mapping(self, node: yaml.MappingNode, path: KeyPath, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged.update(self.merge_source(value_node, path, depth))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.fail(key_node, "mapping keys must be plain strings", "yaml-key")
            key = key_node.value if key_node.tag == _STR else str(self.scalar(key_node, path))
            key = _intern(key)
            if key in result:
                if not self.keys:
                    raise _NeedKeys
                first = self.doc.loc((_KEY,) + path + (key,))
                raise self.fail(
                    key_node,
                    f"duplicate key {key!r} (first defined at line {first.line}); "
                    "remove one of them",
                    "yaml-duplicate-key",
                )
            if self.keys:
                kmark = key_node.start_mark
                self.doc.locs[(_KEY,) + path + (key,)] = (kmark.line + 1, kmark.column + 1)
            child = path + (key,)
            if (
                value_node.tag == _STR
                and type(value_node) is _SCALAR_NODE
                and depth < MAX_DEPTH
                and self.count < MAX_VALUES_PER_DOCUMENT
            ):
                # What build() does for a string, inline: most values are strings.
                self.count += 1
                if depth < self.depth:
                    mark = value_node.start_mark
                    pos = (mark.line + 1, mark.column + 1)
                    if len(_PATHS) < _SHARED_MAX and len(_POSITIONS) < _SHARED_MAX:
                        child = _PATHS.setdefault(child, child)
                        pos = _POSITIONS.setdefault(pos, pos)
                    self.doc.locs.setdefault(child, pos)
                value = value_node.value
                result[key] = _intern(value) if len(value) <= _INTERN_MAX else value
            else:
                result[key] = self.build(value_node, child, depth + 1)
        for key, value in merged.items():
            result.setdefault(key, value)
        return result

    def merge_source(self, node: yaml.Node, path: KeyPath, depth: int) -> dict[str, Any]:
        nodes = node.value if isinstance(node, yaml.SequenceNode) else [node]
        out: dict[str, Any] = {}
        for src in nodes:
            if not isinstance(src, yaml.MappingNode):
                raise self.fail(src, "'<<' merge needs a mapping or a list of mappings", "yaml")
            for key, value in self.mapping(src, path, depth).items():
                out.setdefault(key, value)
        return out


_CONSTRUCTOR = yaml.SafeLoader("")  # only its scalar constructors are used
_SCALARS = {
    "tag:yaml.org,2002:int": _CONSTRUCTOR.construct_yaml_int,
    "tag:yaml.org,2002:float": _CONSTRUCTOR.construct_yaml_float,
    "tag:yaml.org,2002:bool": _CONSTRUCTOR.construct_yaml_bool,
    "tag:yaml.org,2002:null": _CONSTRUCTOR.construct_yaml_null,
}


def _diag(path: str, exc: yaml.MarkedYAMLError) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = exc.problem or exc.context or "invalid YAML"
    context = f" {exc.context}" if exc.context and exc.problem else ""
    return Diagnostic(path, line, col, f"invalid YAML: {problem}{context}", "yaml-syntax")


def read_text(path: Path, display: str) -> str:
    """Read a manifest file as UTF-8, refusing huge and non-UTF-8 files."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise YamlError(
            Diagnostic(
                display,
                1,
                1,
                f"file is {size:,} bytes, over the {MAX_FILE_BYTES:,}-byte limit for manifests",
                "file-too-large",
            )
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise YamlError(
            Diagnostic(
                display,
                line,
                col,
                f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save it as UTF-8",
                "encoding",
            )
        ) from None
    return text.removeprefix("\ufeff")


def _check_depth(text: str, display: str) -> None:
    """Refuse deep nesting before composing: libyaml's composer recurses in C, and
    a few thousand levels overflow the C stack (a crash, not an exception). Its
    event parser is iterative, so depth is measured on events. Only files that
    could be that deep pay for the extra pass."""
    openers = text.count("[") + text.count("{") + text.count("- ") + text.count(":\n")
    if openers <= MAX_DEPTH:
        return
    depth = 0
    starts = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
    ends = (yaml.SequenceEndEvent, yaml.MappingEndEvent)
    too_deep = f"values are nested more than {MAX_DEPTH} levels deep"
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, starts):
                depth += 1
                if depth > MAX_DEPTH + 1:  # the document's root is level 0, as in _Builder
                    raise YamlError(
                        Diagnostic.at(
                            _mark_loc(display, event.start_mark), too_deep, "yaml-too-deep"
                        )
                    )
            elif isinstance(event, ends):
                depth -= 1
    except yaml.MarkedYAMLError as exc:
        # PyYAML 6.0.4 and newer stop deep flow nesting themselves, before our count does.
        if exc.problem_mark is None or "nesting depth" not in str(exc.problem):
            raise
        raise YamlError(
            Diagnostic.at(_mark_loc(display, exc.problem_mark), too_deep, "yaml-too-deep")
        ) from None


class _NeedKeys(Exception):
    """A message needs where a key is: parse again, recording the keys."""


def parse_documents(text: str, display: str, keys: bool = False) -> list[Document]:
    """Parse every YAML document in `text`; raise YamlError on the first problem.

    Where each key is (for errors about a key) is recorded with `keys`; without it,
    each document keeps the text and finds its keys when first asked. A problem is
    always reported from a parse with `keys`, so its message is the same."""
    if not keys:
        try:
            docs = _parse(text, display, False)
        except (YamlError, _NeedKeys):
            return parse_documents(text, display, keys=True)
        for doc in docs:
            doc.source = text
        return docs
    return _parse(text, display, True)


def _parse(text: str, display: str, keys: bool) -> list[Document]:
    # A syntax error found here is reported by the composer below, with its location.
    with contextlib.suppress(yaml.YAMLError):
        _check_depth(text, display)
    loader = _Loader(text)
    docs: list[Document] = []
    try:
        index = 0
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # pragma: no cover - check_node said there was one
                break
            builder = _Builder(display, index, keys)
            builder.doc.data = builder.build(node, (), 0)
            docs.append(builder.doc)
            index += 1
    except yaml.MarkedYAMLError as exc:
        raise YamlError(_diag(display, exc)) from None
    except yaml.reader.ReaderError as exc:
        before = text[: exc.position]
        line = before.count("\n") + 1
        col = exc.position - (before.rfind("\n") + 1) + 1
        char = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1])
        raise YamlError(
            Diagnostic(
                display,
                line,
                col,
                f"invalid YAML: control character 0x{char:02x} is not allowed; remove it",
                "yaml-syntax",
            )
        ) from None
    except yaml.YAMLError as exc:
        one_line = " ".join(str(exc).split())
        raise YamlError(
            Diagnostic(display, 1, 1, f"invalid YAML: {one_line}", "yaml-syntax")
        ) from None
    except RecursionError:
        raise YamlError(
            Diagnostic(display, 1, 1, "YAML is nested too deeply to read", "yaml-too-deep")
        ) from None
    finally:
        loader.dispose()
    return docs
