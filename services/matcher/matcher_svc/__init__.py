"""Matcher: Ranked matches in both directions and campaign statistics."""
