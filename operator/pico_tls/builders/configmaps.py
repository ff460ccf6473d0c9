"""ConfigMap manifests holding the public RCP properties."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pico_tls.builders import names, properties


def properties_configmap(meta: dict[str, Any], props: Mapping[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta,
        "data": {names.PROPERTIES_FILE: properties.render(props, properties.PUBLIC_HEADER)},
    }
