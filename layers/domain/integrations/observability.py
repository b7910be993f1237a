"""Logger and tracer shared by every function (service name and level come from the environment)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Tracer

logger = Logger()
tracer = Tracer()
