"""The local stack: what `make run` and the test suite start."""
