"""Deployment definitions (prefect.yaml) and the single-box serve script."""
