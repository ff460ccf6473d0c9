"""pico-tls-operator: TLS and client authentication for the pico RCP protocol.

`kopf run -m pico_tls` imports this package with kopf already loaded; only then are the
handlers registered, so the pure modules (keystores, builders, CLI) never pull in kopf.
"""

import sys

if "kopf" in sys.modules:  # pragma: no branch - running under kopf
    from pico_tls import handlers as handlers
