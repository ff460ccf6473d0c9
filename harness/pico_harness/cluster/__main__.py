"""The dev cluster command: ``python -m pico_harness.cluster up|down|status|...`` (README.md)."""

import sys

from pico_harness.cluster.localcluster import main

sys.exit(main())
