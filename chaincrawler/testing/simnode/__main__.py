"""``python -m chaincrawler.testing.simnode``: run the simulated regtest node."""

import sys

from chaincrawler.testing.simnode.cli import main

sys.exit(main())
