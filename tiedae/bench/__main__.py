"""Entry point: `python -m tiedae.bench` (see `tiedae.bench.cli`)."""

import sys

from tiedae.bench.cli import main

sys.exit(main())
