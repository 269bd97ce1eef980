"""The bot's human-facing texts (Jinja2), installed as the package ``bot._templates``.

Not Python: this file only makes the folder a package, so the wheel and the editable install
both ship it and ``bot.services.template_environment`` finds it with importlib.
"""
