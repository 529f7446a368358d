"""Event contracts shared by every Labour Exchange service: envelope, topics, payloads, reference data."""
