"""Storage: the integrations table, the credentials vault, the delivery log, provider state and API keys.

Imports the platform, the vocabulary, the providers' hand-off types and the API's wire shapes (``models``), which
is what it stores and returns; never delivery or the API's logic.
"""
