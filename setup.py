"""Package discovery; all other metadata lives in pyproject.toml.

The top-level ``resources/`` folder (the Dagster resources) installs as
``embed_assets.resources``, so it never shadows a user's own ``resources`` module.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["embed_assets", "embed_assets.*"]), "embed_assets.resources"],
    package_dir={"embed_assets.resources": "resources"},
)
