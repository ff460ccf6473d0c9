"""Reconciliation: read a platform group, decide what to write, write only that."""
