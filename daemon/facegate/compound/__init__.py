"""The compound: many gates and one office over the compound's own MQTT broker (Mosquitto).

Pure parts: ``pki`` (the compound CA, device certificates), ``messages`` (schemas, sealing to a
gate's X25519 key, Ed25519 signatures), ``broker`` (mosquitto.conf, the ACL), ``homeassistant``
(discovery payloads), ``apply`` (a change applied to a gate's store, in order, once).
Connections: ``link`` (a gate's client, with its on-disk outbox ``spool``), ``office`` (the
office's client and ``registry``). ``setup`` is init / join / admit / install.
"""
