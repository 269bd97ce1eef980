"""Alembic's migrations, installed as the package ``bot._migrations``.

This file only makes the folder a package, so the wheel and the editable install both ship it
and ``bot.storage.db`` finds it with importlib; alembic reads env.py and versions/ as files.
"""
