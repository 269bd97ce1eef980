from __future__ import annotations

from tests.support.terraform_shim import terraform_shim

# The fixture lives with the shim; the pull-request flows here plan and apply through it.
__all__ = ["terraform_shim"]
