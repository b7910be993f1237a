"""The providers: each in a module of its own, listed in ``registry`` in the catalog's order.

Beside the providers: what each is handed and reports back (``delivery``), outbound HTTP (``http``, ``ssrf``) and
message helpers. Providers import the platform and the vocabulary only: never storage, delivery or the API.

Nothing is imported here: code that needs only ``delivery`` (the delivery-log store, health) does not load every
provider's module with it (about 30 ms of a cold start). ``registry`` loads them all.
"""
