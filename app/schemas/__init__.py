"""Request and response shapes of the API, one module per feature (named as its router)."""
