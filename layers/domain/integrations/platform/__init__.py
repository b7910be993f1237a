"""Platform glue every layer uses: settings, AWS clients, clock, errors, observability, redaction, bounded JSON.

Imports nothing else of the package (type-only imports aside).
"""
