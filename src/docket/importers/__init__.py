"""Importers for message exports, and the registry that picks one for a file."""

from __future__ import annotations

from docket.importers.base import Importer

REGISTRY: dict[str, type[Importer]] = {}


def register(cls: type[Importer]) -> type[Importer]:
    REGISTRY[cls.name] = cls
    return cls
