"""Sphinx configuration of the sklearn-l3ae documentation.

The build needs no network: intersphinx is off, and the gallery examples read
their data from ``../shared/data`` and the offline sentence encoder.  ``make
html-noplot`` skips running the examples (``plot_gallery=0``).
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import sklearn_l3ae  # noqa: E402

project = "sklearn-l3ae"
author = "sklearn-l3ae developers"
copyright = "sklearn-l3ae developers"
release = sklearn_l3ae.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

exclude_patterns = ["_build", "**.ipynb_checkpoints", "auto_examples/*.ipynb"]
root_doc = "index"

# API reference: one page per public object, generated at build time.
autosummary_generate = True
autodoc_default_options = {
    "members": True,
    # Show fit/predict/score inherited from the package's base classes, not
    # scikit-learn's get_params/set_params/... (documented by scikit-learn).
    "inherited-members": "BaseEstimator, _MetadataRequester, _SetOutputMixin, object",
}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks = set()

# No intersphinx: the build must not reach the network.

sphinx_gallery_conf = {
    "examples_dirs": str(HERE.parent / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    # Each example fits real models; plot_gallery=0 (make html-noplot) skips them.
    "abort_on_example_error": True,
    "matplotlib_animations": False,
}
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-l3ae {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_static_path = []


def _skip_metadata_requests(app, what, name, obj, skip, options):
    """Leave out scikit-learn's generated ``set_*_request`` methods (e.g.
    ``set_partial_fit_request``): scikit-learn documents them."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_requests)
