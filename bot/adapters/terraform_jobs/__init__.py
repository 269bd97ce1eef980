"""Terraform as Kubernetes Jobs (``GITOPS_BOT_TERRAFORM_EXECUTOR=kubernetes``).

The bot side (``runner``, ``manifest``, ``kubernetes``, ``setup``) starts one Job per plan or
apply and follows it; the pod side (``pod``, the ``gitops-bot terraform-job`` command) fetches
the work tree (``bundle``) from the bot's internal routes (``routes``), runs Terraform and sends
its result back. What travels between them is ``wire``; the rows of a run are ``store``'s.
Nothing is imported here, so the pod loads only what it runs.
"""
