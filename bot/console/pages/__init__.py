"""One module per console page; each declares its routes on a module-level ``router``."""
