"""The two things pyproject.toml cannot declare without setuptools' experimental tables.

1. The route search's compiled descent (docs/planning.md), built with Cython. Without a C
   compiler the install fails loudly rather than falling back silently to the 30x slower numpy
   search.
2. The product's own files as package data: the repository keeps ``resources/`` and
   ``migrations/`` at its top level, and a wheel or sdist-built install carries them inside the
   package as ``dispatcher/resources`` and ``dispatcher/migrations``, where
   ``dispatcher.package_data`` finds them with importlib.resources.

Everything else (metadata, dependencies, entry points) is in pyproject.toml.
"""

from __future__ import annotations

import os

from Cython.Build import cythonize
from setuptools import Extension, find_packages, setup

#: Folder of the repository -> the package it becomes in an installed copy.
DATA_FOLDERS = {"resources": "dispatcher.resources", "migrations": "dispatcher.migrations"}


def data_packages() -> tuple[list[str], dict[str, str], dict[str, list[str]]]:
    """Every folder under the data folders as a package, its source folder and its files."""
    packages: list[str] = []
    package_dir: dict[str, str] = {}
    package_data: dict[str, list[str]] = {}
    for folder, package in DATA_FOLDERS.items():
        package_dir[package] = folder
        for dirpath, dirnames, _files in os.walk(folder):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            rel = os.path.relpath(dirpath, folder)
            name = package if rel == "." else f"{package}.{rel.replace(os.sep, '.')}"
            packages.append(name)
            package_data[name] = ["*.*"]
    return packages, package_dir, package_data


data, data_dirs, data_files = data_packages()
setup(
    packages=find_packages(include=["dispatcher", "dispatcher.*"])
    + find_packages("ui", include=["dispatcher_ui", "dispatcher_ui.*"])
    + data,
    package_dir={"dispatcher_ui": "ui/dispatcher_ui", **data_dirs},
    package_data={"dispatcher.planning": ["*.pyi", "*.pyx", "py.typed"], **data_files},
    ext_modules=cythonize(
        [Extension("dispatcher.planning._descent", ["dispatcher/planning/_descent.pyx"])],
        compiler_directives={"language_level": "3"},
    ),
)
