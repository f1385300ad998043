"""Typed configs from YAML files plus ``key=value`` overrides; unknown keys are rejected with suggestions.

Merge order, highest priority on the right: dataclass defaults < YAML file < command-line overrides.
"""

from __future__ import annotations

import difflib
import os
import types
import typing
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

import yaml

from facetrust.errors import ConfigError

C = TypeVar("C")


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    origin = get_origin(annotation)
    args = get_args(annotation)
    if value is None and annotation in (str, Path):
        raise ConfigError(f"{key}: a value is required (got an empty value)")
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError:
                continue
        raise ConfigError(f"{key}: cannot interpret {value!r} as {annotation}")
    if origin is tuple:
        if isinstance(value, str):
            value = [v for v in value.strip("()[]").split(",") if v.strip()]
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], key) for v in value)
        if len(args) != len(value):
            raise ConfigError(f"{key}: expected {len(args)} values, got {len(value)}")
        return tuple(_coerce(v, a, key) for v, a in zip(value, args, strict=True))
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "false", "1", "0", "yes", "no"}:
            return value.lower() in {"true", "1", "yes"}
        raise ConfigError(f"{key}: expected true/false, got {value!r}")
    if annotation in (int, float, str):
        try:
            if isinstance(value, list | tuple | dict) or (annotation is not str and isinstance(value, bool)):
                raise TypeError
            if annotation is int and isinstance(value, float) and not value.is_integer():
                raise ValueError
            return annotation(value)
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(f"{key}: expected {annotation.__name__}, got {value!r}") from None
    if annotation is Path:
        if isinstance(value, bool | list | tuple | dict):
            raise ConfigError(f"{key}: expected a path, got {value!r}")
        return Path(os.path.expanduser(str(value)))
    return value


def build_config(cls: type[C], values: dict[str, Any], *, source: str = "config") -> C:
    """Instantiate the dataclass ``cls`` from ``values``, checking names and types."""
    if not is_dataclass(cls):
        raise TypeError(f"{cls} is not a dataclass")
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if not isinstance(key, str):
            raise ConfigError(f"{source}: keys must be names, got {key!r}. Valid keys: {', '.join(sorted(known))}")
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise ConfigError(f"unknown key {key!r} in {source}.{hint} Valid keys: {', '.join(sorted(known))}")
        kwargs[key] = _coerce(value, hints[key], key)
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{source}: {exc}") from exc


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["epochs=3", "lr=1e-4"]`` → ``{"epochs": 3, "lr": 0.0001}`` (values parsed as YAML scalars).

    A value that is not valid YAML (``name=[a``) is a :class:`ConfigError`; quote it to pass it as text
    (``name='[a'``)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r} is not of the form key=value")
        try:
            out[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ConfigError(
                f"override {item!r}: the value is not valid YAML ({problem}); quote it to pass it as text"
            ) from exc
    return out


def load_config(cls: type[C], path: str | os.PathLike | None, overrides: list[str] | None = None) -> C:
    """Load ``cls`` from a YAML file (may be None) and apply ``key=value`` overrides.

    Every problem with the file or the values (missing, unreadable, not UTF-8, not YAML, unknown key, bad
    value) is a :class:`ConfigError` naming the file or the key."""
    values: dict[str, Any] = {}
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except IsADirectoryError:
            raise ConfigError(f"config file {path} is a directory, not a YAML file") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"config file {path} is not UTF-8 text: {exc}") from exc
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
        try:
            loaded = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path} must hold a mapping of key: value")
        values.update(loaded)
    values.update(parse_overrides(overrides or []))  # highest priority on the right
    return build_config(cls, values, source=str(path) if path else "overrides")
