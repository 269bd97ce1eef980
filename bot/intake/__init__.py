"""Webhook intake: verify the sender, store the event with its jobs, answer fast."""
