"""The operations console: server-rendered pages (Jinja2, a little vanilla JS), each with a JSON
twin under ``/api/``, behind the console's sign-in, with CSRF-protected actions.

``app`` builds the router; ``render`` the page frame (navigation, banner, viewer); ``security``
who may look and act; ``pages/`` one module per page.
"""
