"""``python -m backlinkspider.cli``: the ``backlinks`` command."""

import sys

from backlinkspider.cli import main

sys.exit(main())
