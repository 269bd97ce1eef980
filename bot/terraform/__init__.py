"""Terraform pull requests: ``projects`` picks the projects and ``apply_gate`` judges a saved plan
(both pure), ``pull_requests`` is the entry point (``planning``, ``applying``, ``reporting``),
``store`` owns the saved plans and ``locks`` the locks. The Terraform CLI itself is an adapter
(``bot.adapters.terraform_cli``).

Import the module you need: the package imports nothing, so the lock store can be built without
the workflow.
"""
