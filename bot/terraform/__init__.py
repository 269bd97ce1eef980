"""Terraform pull requests: ``projects`` decides (pure), ``pull_requests`` runs and reports, ``locks``
owns the locks. The Terraform CLI itself is an adapter (``bot.adapters.terraform_cli``).

Import the module you need: the package imports nothing, so the lock store can be built without
the workflow.
"""
