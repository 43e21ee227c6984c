"""Shape and type checks for the settings dataclasses of ``imgpipe.config``.

JSON can hold any type where a number is expected, so every field's type is checked before its
range, and each mistake is described in one line naming the field and the rule; ``imgpipe.config``
raises it as its SettingsError.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import MISSING, fields
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

_RULES = {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}


def shown(value: object) -> str:
    """A value as the user wrote it in JSON (containers by kind: their content is beside the point)."""
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _accepts(hint: Any, value: object) -> bool:
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is type(None):
        return value is None
    origin = get_origin(hint)
    if origin in (Union, UnionType):
        return any(_accepts(arg, value) for arg in get_args(hint))
    if origin is tuple:
        return isinstance(value, tuple) and all(_accepts(get_args(hint)[0], item) for item in value)
    return isinstance(value, hint) if isinstance(hint, type) else True


def _rule(hint: Any) -> str:
    if hint in _RULES:
        return _RULES[hint]
    if get_origin(hint) in (Union, UnionType):
        return " or ".join("null" if arg is type(None) else _rule(arg) for arg in get_args(hint))
    return "a list" if get_origin(hint) is tuple else "an object"


_FIELD_TYPES: dict[type, dict[str, Any]] = {}  # resolved once per class: the annotations are strings


def type_problem(block: Any) -> str | None:
    """The first field of the dataclass ``block`` whose value is not of its declared type, described
    (``max_bytes must be a whole number, not "x"``); None when every field is."""
    types = _FIELD_TYPES.get(type(block)) or _FIELD_TYPES.setdefault(type(block), get_type_hints(type(block)))
    for f in fields(block):
        value = getattr(block, f.name)
        if not _accepts(types[f.name], value):
            return f"{f.name} must be {_rule(types[f.name])}, not {shown(value)}"
    return None


def as_arguments(value: object, where: str, cls: type) -> dict[str, Any] | str:
    """``value`` as keyword arguments for ``cls`` (a JSON object with no unknown and no missing
    keys), or what is wrong with it; ``where`` names it in the description."""
    if not isinstance(value, Mapping):
        return f"{where} must be a JSON object, not {shown(value)}"
    known = [f.name for f in fields(cls)]
    unknown = sorted(str(key) for key in value if key not in known)
    if unknown:
        label = "settings" if where == "settings" else f"{where} settings"
        return f"unknown {label}: {unknown} (known: {', '.join(known)})"
    required = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
    missing = [name for name in required if name not in value]
    if missing:
        return f"{where} needs {' and '.join(missing)}"
    return dict(value)
