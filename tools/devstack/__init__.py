"""The local stack: template.yaml provisioned in moto, its API served and its queues polled in one process."""
