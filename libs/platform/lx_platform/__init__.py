"""Platform plumbing shared by every Labour Exchange service. No business rules live here."""
