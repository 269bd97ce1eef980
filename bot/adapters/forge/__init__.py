"""The forge port (what the domain asks of GitHub and GitLab) and its adapters.

Import the port from ``bot.adapters.forge.port`` and comment posting from
``bot.adapters.forge.comments``. This package itself imports nothing: ``bot.adapters.forge.names``
is read by the settings, and the command line must not load the port's models to print its help.
The PyGithub adapter lives in ``bot.adapters.forge.github`` so the domain never imports PyGithub.
"""
