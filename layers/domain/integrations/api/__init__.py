"""The management API: the HTTP glue of the route functions, the service logic, the provider catalog, the test
event and redelivery. The top layer: it may import every other one, and nothing imports it.
"""
