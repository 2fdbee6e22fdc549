"""The transport wing: MQTT topics, wire payloads, the bus client, the embedded broker."""
