"""Package exports that load on first use (PEP 562): importing one light module of a package (a job's start, the
configuration) must not pull in every model library the package's other modules need."""

from __future__ import annotations

import importlib
from collections.abc import Callable


def exporter(package: str, exports: dict[str, str], submodules: tuple[str, ...] = ()) -> tuple[Callable, list[str]]:
    """A module `__getattr__` serving `exports` (public name -> the module defining it) and `submodules`, and the
    package's `__all__`."""

    def __getattr__(name: str):
        if name in submodules:
            return importlib.import_module(f"{package}.{name}")
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__, sorted(exports) + sorted(submodules)


__all__ = ["exporter"]
