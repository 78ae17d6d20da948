"""``python -m cli``: the ``byrote`` command."""
import sys

from cli.main import main

sys.exit(main())
