"""Deployments: what merged, its canary analysis, and rollback through a git revert.

``plan`` decides (pure); ``analysis`` runs the canary loop; ``service`` records merges, rolls
back and reports; ``quarantine`` owns the quarantined versions. Import the module you need: the
package imports nothing, so the stores can be built without the workflows.
"""
