"""The web client: server-rendered pages over the public API."""
