"""Help requests: Help requests, offers and invitations."""
