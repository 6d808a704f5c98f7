"""Prefect flows: thin shells over ehcp_workflow (see each module)."""
