"""``python -m flowtrace ...``: same as the ``flowtrace`` command."""
import sys

from .cli import main

sys.exit(main())
