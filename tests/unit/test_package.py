"""The package's shape: its public names, its import cost, its error tree."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import lexigram_nosql
from lexigram_nosql import errors

DRIVER_PACKAGES = (
    "pymongo",
    "motor",
    "bson",
    "aioboto3",
    "aiobotocore",
    "boto3",
    "botocore",
    "google",
)


def test_all_is_sorted_and_importable() -> None:
    """Every name in ``__all__`` exists, and the list is sorted (a diff shows API changes)."""
    names = lexigram_nosql.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), n))
    for name in names:
        assert hasattr(lexigram_nosql, name), name


def test_every_public_error_is_exported() -> None:
    exported = set(lexigram_nosql.__all__)
    for name, obj in vars(errors).items():
        if (
            inspect.isclass(obj)
            and issubclass(obj, Exception)
            and obj.__module__ == errors.__name__
        ):
            assert name in exported, name


def test_error_tree_in_docstring_matches_classes() -> None:
    """The tree drawn in errors.py names each class once, under its real parent."""
    doc = errors.__doc__ or ""
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert name in doc, name
        if cls is not errors.NoSQLError:
            assert issubclass(cls, errors.NoSQLError)
            assert cls.__doc__, f"{name} needs a docstring saying when it is raised"


def test_error_tree_in_the_docs_names_every_class() -> None:
    """docs/errors.md draws the same tree as errors.py: a new class must be documented."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "errors.md").read_text()
    for name in errors.__all__:
        assert f"── {name} " in doc or f"{name}  " in doc.split("```")[1], name


def test_importing_the_package_imports_no_driver() -> None:
    code = (
        "import sys, lexigram_nosql;"
        f"loaded = [m for m in sys.modules if m.split('.')[0] in {DRIVER_PACKAGES!r}];"
        "print(','.join(loaded))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.stdout.strip() == ""


def test_package_is_typed() -> None:
    assert (Path(lexigram_nosql.__file__).parent / "py.typed").exists()
