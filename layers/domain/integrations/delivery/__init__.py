"""The delivery pipeline: fan-out, jobs, dispatch, retry, exactly-once, pacing, signing and health.

Imports storage, the providers and what is below them; never the management API.
"""
