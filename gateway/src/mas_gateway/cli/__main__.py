"""``python -m mas_gateway.cli`` runs the ``mas`` command line."""

import sys

from . import main

sys.exit(main())
