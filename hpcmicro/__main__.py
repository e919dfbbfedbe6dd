"""``python -m hpcmicro`` is the ``hpcmicro`` command."""

import sys

from .cli import main

sys.exit(main())
