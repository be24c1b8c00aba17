"""``python -m facegate``: the same as the ``facegate`` command."""

import sys

from .cli import main

sys.exit(main())
