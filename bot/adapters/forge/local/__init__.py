"""The local forge: bare git repositories on disk, pull requests in the database.

Import from the modules (``forge``, ``repos``, ``store``): this package imports nothing, so that
``gitops-bot pr`` (``cli``) and the settings' seed do not load the whole forge to start.
"""
