"""Version updates: registry and model-registry events become pull requests.

``plan`` decides (pure), ``render`` words it (templates/updates), ``outcome`` decides what a
proposal's result means (pure), ``propose`` and ``branch`` do the I/O, ``store`` owns the
``UpdateRequest`` rows, ``service`` and ``automerge`` are what the handlers call.

Import from the modules: this package imports nothing, so that the command line (``preview_cli``)
starts without loading the queue, the store and the forge.
"""
