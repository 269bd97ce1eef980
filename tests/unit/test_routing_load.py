"""GITOPS_BOT_HANDLERS: how serve and worker pick their handler set."""

from __future__ import annotations

import pytest

from bot.routing import Router, RouterLoadError, load_router
from handlers import default_router, handler_modules

test_router = Router()


def make_router() -> Router:
    return test_router


def test_default_spec_loads_the_handlers_package() -> None:
    assert isinstance(load_router("handlers:default_router"), Router)


def test_a_router_or_a_factory_is_accepted() -> None:
    assert load_router(f"{__name__}:test_router") is test_router
    assert load_router(f"{__name__}:make_router") is test_router


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("handlers", "must be 'module:attribute'"),
        ("no_such_module_here:router", "cannot import module"),
        ("handlers:nothing", "has no attribute"),
        (f"{__name__}:pytest", "not a Router"),
    ],
)
def test_bad_specs_name_the_problem(spec: str, message: str) -> None:
    with pytest.raises(RouterLoadError, match=message):
        load_router(spec)


def test_every_handler_module_is_discovered_in_a_stable_order() -> None:
    modules = handler_modules()
    assert modules == sorted(modules)
    assert all(name.startswith("handlers.") for name in modules)
    assert isinstance(default_router(), Router)
