"""The application's generic top-level package names resolve to this repository, not to anything installed."""

from pathlib import Path

import activities
import models
import workflows

ROOT = Path(__file__).resolve().parents[2]


def test_top_level_packages_come_from_this_repository() -> None:
    """`models`, `workflows` and `activities` are the ones in this checkout."""
    for package in (models, workflows, activities):
        assert package.__file__ is not None
        assert Path(package.__file__).resolve().parent.parent == ROOT
