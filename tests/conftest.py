"""Test-wide settings."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def private_cache_home(tmp_path_factory):
    """The command line caches embeddings under $XDG_CACHE_HOME by default:
    the tests use a folder of their own, never the user's cache."""
    patch = pytest.MonkeyPatch()
    patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
    yield
    patch.undo()
