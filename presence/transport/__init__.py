"""The transport wing: MQTT topics, wire payloads, the bus client, the embedded broker."""

__all__: list[str] = []  # the modules are the public surface
