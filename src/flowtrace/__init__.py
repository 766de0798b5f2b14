"""FlowTrace: what a Python 3.12+ program did, call by call.

Listens to the interpreter through sys.monitoring (PEP 669) with a recorder
written in C. See README.md.
"""
from .api import get_trace_data, print_tree, start_tracing, stop_tracing, trace, tracing
from .model import CallEvent, FunctionStats, Trace
from .saved import TraceFileError, load, save

__version__ = "0.1.0"


def load_ipython_extension(ipython):  # type: ignore[no-untyped-def]
    """``%load_ext flowtrace`` in IPython / Jupyter: the ``%flowtrace`` and
    ``%%flowtrace`` magics (see flowtrace.ipython). IPython is imported only
    then."""
    from .ipython import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython):  # type: ignore[no-untyped-def]
    from .ipython import unload_ipython_extension as unload

    unload(ipython)

__all__ = [
    "trace",
    "start_tracing",
    "stop_tracing",
    "get_trace_data",
    "print_tree",
    "tracing",
    "CallEvent",
    "Trace",
    "FunctionStats",
    "save",
    "load",
    "TraceFileError",
    "__version__",
]
