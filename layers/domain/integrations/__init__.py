"""The Integrations service's domain package, in layers; a module imports only from its own layer or lower ones.

- ``platform``: settings, AWS clients, clock, errors, observability, redaction, bounded JSON (imports nothing above)
- ``catalog``, ``events``: the shared vocabulary (event types, severities, the event contract)
- ``providers``: one module per provider, the delivery hand-off and outbound HTTP (never storage, delivery, api)
- ``models``: the API's wire shapes, exactly the seed's fields (what the API answers and storage returns)
- ``storage``: the integrations table, vault, delivery log, provider state, API keys
- ``delivery``: fan-out, dispatch, jobs, retry, exactly-once, pacing, health (never the api)
- ``api``: the management API: its HTTP glue, service logic, provider catalog, test event, redelivery

tests/unit/test_layers.py enforces the order.
"""
