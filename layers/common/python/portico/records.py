"""Typed records of stored items: frozen dataclasses that repositories build from items and back.

A record class lists the attributes it knows; :meth:`Record.from_item` takes those from an item
(numbers already plain ints, see :func:`portico.store.plain`), turns lists into tuples and runs
the class's ``decoders`` for nested values; :meth:`Record.to_item` gives the attributes to store,
without the ones that are None.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar, Self


class Record:
    decoders: ClassVar[dict[str, Callable[[Any], Any]]] = {}
    encoders: ClassVar[dict[str, Callable[[Any], Any]]] = {}

    @classmethod
    def field_names(cls) -> frozenset[str]:
        return frozenset(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]

    @classmethod
    def decode(cls, name: str, value: Any) -> Any:
        if name in cls.decoders:
            return cls.decoders[name](value)
        return tuple(value) if isinstance(value, list | set) else value

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Self:
        known = cls.field_names()
        return cls(**{k: cls.decode(k, v) for k, v in item.items() if k in known})

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is None:
                continue
            if f.name in self.encoders:
                value = self.encoders[f.name](value)
            elif isinstance(value, tuple):
                value = list(value)
            item[f.name] = value
        return item
