"""Deployments: what merged, its canary analysis, and rollback through a git revert.

Pure: ``merged`` (what a merge deployed) and ``plan`` (the analysis plan, what follows it, whether
to roll back). I/O: ``record`` (a merged pull request), ``analysis`` (the canary loop),
``follow_up`` (the end of an analysis), ``rollback``, ``status``; ``store`` and ``quarantine`` own
their rows (who may run a command: ``bot.commands.authorization``). Import the module you need: the
package imports nothing, so the stores can be built without the workflows.
"""
