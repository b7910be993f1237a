"""AWS list prices the cost figures use: us-east-1, on demand, in US dollars. The one place they are kept.

Read from the services' public pricing pages; recorded on PRICES_DATE. They change rarely but do change
(DynamoDB's on-demand throughput halved in November 2024): check them again before quoting a figure.
Free tiers are left out: they vanish at any scale worth costing.
"""

from __future__ import annotations

PRICES_DATE = "2026-12-03"
REGION = "us-east-1"

# DynamoDB, on demand, Standard table class: per request unit.
DYNAMODB_WRITE_UNIT = 0.625 / 1e6
DYNAMODB_READ_UNIT = 0.125 / 1e6
# SQS standard queue: per request; every 64 KB chunk of a request's payload is billed as one request.
SQS_REQUEST = 0.40 / 1e6
SQS_CHUNK_BYTES = 64 * 1024
# Secrets Manager: per API call (0.05 USD per 10,000); secrets themselves are billed per month, not per call.
SECRETS_MANAGER_CALL = 0.05 / 10_000
# EventBridge: per custom event put on a bus; every 64 KB chunk of an entry is one event. Rule deliveries free.
EVENTBRIDGE_EVENT = 1.00 / 1e6
EVENTBRIDGE_CHUNK_BYTES = 64 * 1024
# Lambda on arm64 (the template's architecture): per GB-second of duration, and per invocation.
LAMBDA_GB_SECOND = 0.0000133334
LAMBDA_REQUEST = 0.20 / 1e6
# CloudWatch Logs, Standard log class: per byte ingested (0.50 USD per GB).
LOGS_INGESTED_BYTE = 0.50 / 1024**3
