"""Alembic migration environment for the store (see ``env.py``; revisions in ``versions/``)."""
