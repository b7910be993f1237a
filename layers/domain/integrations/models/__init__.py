"""The API's request and response models, one module per resource: a function imports its own routes' models only.

Exactly the seed's fields; responses never carry secrets.
"""
