"""The API gateway: the one public origin for web and mobile clients."""
