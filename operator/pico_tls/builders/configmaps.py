"""ConfigMap manifests holding the public settings: `rcp-tls.properties` always (its text is
part of the pods' mounted-content hash), and in the topology form the HOCON fragments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pico_tls.builders import form_content, names, pod_delivery, properties
from pico_tls.delivery_choice import DeliveryForm, DeliverySpec


def settings_configmap(
    meta: dict[str, Any], props: Mapping[str, str], choice: DeliverySpec | None = None
) -> dict[str, Any]:
    choice = choice or DeliverySpec()
    settings = form_content.pico_settings(props, web_ui_tls=choice.web_ui_tls)
    data = {names.PROPERTIES_FILE: properties.render(settings.public, properties.PUBLIC_HEADER)}
    if choice.form is DeliveryForm.TOPOLOGY_FILES:
        data |= pod_delivery.topology_configmap_data(settings)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}
