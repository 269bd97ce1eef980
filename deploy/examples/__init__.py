"""Example GitOps repositories, shipped with the bot as ``bot._examples``: ``gitops-repo`` is the
local forge's first repository (``local/gitops``), created by ``gitops-bot serve`` when no GitOps
repository is configured."""
