"""The name FlowTrace shows for a code object, computed independently of
FlowTrace, for the reference recorders of test_differential.py and
test_fidelity.py (which run as scripts in fresh interpreters: no imports
beyond the standard library here)."""
from __future__ import annotations

from typing import Any


def display_name(code: Any, frame: Any) -> str:
    """FlowTrace's one rule (tree/model.c): the qualified name; a module's
    body "<module NAME>" (the module it runs in), a class's body
    "class QUALNAME"."""
    if code.co_name == "<module>":
        name = frame.f_globals.get("__name__")
        return f"<module {name}>" if isinstance(name, str) else "<module>"
    if not code.co_flags & 0x3:  # neither CO_OPTIMIZED nor CO_NEWLOCALS
        return f"class {code.co_qualname}"
    return code.co_qualname
