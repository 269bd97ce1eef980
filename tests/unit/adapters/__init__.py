"""Adapters: tests of the bot's I/O at the edge, on real programs or faithful stand-ins."""
