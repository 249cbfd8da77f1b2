"""`import lancedb` without the seconds it spends on a client it never uses here.

lancedb imports `lance_namespace`, which imports the package `lance_namespace_urllib3_client`: a REST
client generated from an OpenAPI spec whose `__init__` loads nine API modules and ~150 pydantic models
(measured: 7.5 s of a 14.6 s `import lancedb` on this loaded machine, ~half of it in good times). Local
and object-store tables only need a few of its model classes. So before lancedb is first imported, the
package is registered with its real search path but without running its `__init__`: submodules
(`...models.x`) import as usual, and the first package-level name anyone asks for (the REST client)
runs the real `__init__` then, so nothing is lost, only deferred.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import threading
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)

REST_CLIENT = "lance_namespace_urllib3_client"
_LOCK = threading.Lock()


def _defer_package_init(name: str) -> None:
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or not spec.submodule_search_locations:
        return
    module = importlib.util.module_from_spec(spec)  # __path__ set, __init__ not run yet
    loaded = threading.Lock()

    def __getattr__(attr: str) -> Any:  # noqa: N807 (module-level __getattr__, PEP 562)
        if attr.startswith("__"):
            raise AttributeError(attr)
        with loaded:
            if "__getattr__" in module.__dict__:
                del module.__dict__["__getattr__"]
                spec.loader.exec_module(module)  # the real __init__, on first real use
        return getattr(module, attr)

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules[name] = module


def import_lancedb() -> ModuleType:
    """lancedb, imported (once per process) with its REST namespace client deferred."""
    with _LOCK:
        if "lancedb" not in sys.modules:
            try:
                _defer_package_init(REST_CLIENT)
            except Exception as exc:  # a layout this does not know: the plain (slower) import still works
                sys.modules.pop(REST_CLIENT, None)
                log.debug("not deferring %s (%s)", REST_CLIENT, exc)
        import lancedb

        return lancedb
