"""A small named registry: duplicate names are refused, misses list close matches."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from facetrust.errors import ConfigError, UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to factories. ``locations`` are modules imported on first lookup so their
    ``@register`` decorators run; the registry itself knows where its members live."""

    def __init__(self, kind: str, locations: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._locations = locations
        self._imported = False

    def register(self, name: str | None = None) -> Callable[[T], T]:
        """Decorator that registers ``obj`` under ``name`` (default: its ``__name__``)."""

        def deco(obj: T) -> T:
            key = name or obj.__name__
            if key in self._items and self._items[key] is not obj:
                raise ConfigError(f"{self.kind} {key!r} is already registered")
            self._items[key] = obj
            return obj

        return deco

    def _import_locations(self) -> None:
        if not self._imported:
            self._imported = True
            for module in self._locations:
                importlib.import_module(module)

    def get(self, name: str) -> T:
        """Return the entry called ``name`` or raise :class:`UnknownNameError`."""
        self._import_locations()
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self._items) from None

    def names(self) -> list[str]:
        self._import_locations()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        self._import_locations()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
