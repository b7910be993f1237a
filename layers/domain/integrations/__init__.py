"""The Integrations service's domain package: providers, validation, storage and the HTTP glue."""
