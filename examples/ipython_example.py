"""FlowTrace in IPython / Jupyter, run for real: this script starts IPython's
own shell and runs the cells a notebook user would type (see notebook.md
for the same session as a notebook shows it).

    python examples/ipython_example.py      (needs IPython: pip install 'flowtrace[ipython]')

In a notebook or an IPython terminal, type the cells themselves:
%load_ext flowtrace once, then %%flowtrace on a cell, %flowtrace on a line.
"""
import os
import tempfile

os.environ.setdefault("IPYTHONDIR", tempfile.mkdtemp())  # leave ~/.ipython alone

from IPython.core.interactiveshell import InteractiveShell  # noqa: E402
from traitlets.config import Config  # noqa: E402

CELLS = [
    "%load_ext flowtrace",
    # a cell that defines functions, as usual
    '''\
def parse(line):
    key, _, value = line.partition("=")
    return key.strip(), convert(value.strip())

def convert(text):
    return int(text) if text.isdigit() else text
''',
    # the tree of one cell, kept in `t`; the cell's value is still its result
    '''\
%%flowtrace -o t
config = dict(parse(line) for line in ["port = 8080", "host = example.org"])
config["port"] + 1
''',
    # one statement
    '%flowtrace --args parse("debug = 1")',
    # the trace is a value like any other
    "len(t), [e.func_name for e in t][:3]",
    # an exception goes on to IPython as usual; the tree shows where it went
    '''\
%%flowtrace
parse(None)
''',
]


def main():
    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "NoColor" if os.environ.get("NO_COLOR") else "Linux"
    shell = InteractiveShell.instance(config=config)
    for cell in CELLS:
        print(f"\nIn [{shell.execution_count}]: " + cell.rstrip().replace("\n", "\n   ...: "))
        shell.run_cell(cell, store_history=True)


if __name__ == "__main__":
    main()
