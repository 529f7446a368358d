"""Twitter gateway: Everything that touches X: sign-in, ingestion, notifications."""
