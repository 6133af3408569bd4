"""The one serialiser: dataclasses in snake_case <-> JSON objects in camelCase.

Plans, state entries and fingerprints are dataclasses with snake_case Python
names; their JSON forms (plan files, `-o json`, state files) keep the API's
camelCase keys (`anamName`, `preventDestroy`, `updatedAt`). Enums serialise to
their values. Plain dicts (request bodies, applied fields) pass through as
they are: their keys are the API's.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")


def camel(name: str) -> str:
    """`anam_name` -> `anamName`."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def to_json(value: Any) -> Any:
    """A dataclass (recursively), enum, list or dict as plain JSON data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {camel(f.name): to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value


@cache
def _hints(cls: Any) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_json(cls: type[T], data: dict[str, Any]) -> T:
    """An instance of dataclass `cls` from its JSON form; keys it does not declare are
    ignored (derived ones such as a plan's `summary`). A missing key without a default,
    or a value of the wrong shape, raises TypeError or ValueError."""
    if not isinstance(data, dict):
        raise TypeError(f"{cls.__name__} must be an object, not {type(data).__name__}")
    shape: Any = cls  # a dataclass type: hashable, and what fields() takes
    hints = _hints(shape)
    kwargs = {}
    for f in dataclasses.fields(shape):
        key = camel(f.name)
        if key in data:
            kwargs[f.name] = _convert(hints[f.name], data[key])
    return cls(**kwargs)


def _convert(hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _convert(options[0], value) if len(options) == 1 else value
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise TypeError(f"expected a list, not {type(value).__name__}")
        return [_convert(item, v) for v in value]
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return from_json(hint, value)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    return value
