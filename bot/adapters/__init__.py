"""Adapters: the bot's I/O at the edge (forge, git, Kubernetes, Prometheus, Terraform CLI, Slack Web API).

Everything outside these packages decides from data; everything here talks to another system.
"""
