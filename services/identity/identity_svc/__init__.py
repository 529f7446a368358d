"""Identity: accounts, passwords, tokens, roles and consents."""
