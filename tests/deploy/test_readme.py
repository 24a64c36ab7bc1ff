"""The README against the tree: its configuration table against the settings class (every variable listed, with its
default), and its code map against the repository (every path it names exists, every top-level package has a line)."""

import re
from pathlib import Path

from pydantic import AliasChoices
from pydantic_core import PydanticUndefined

from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
CODE_MAP = "Where the code lives"
# A backticked path: no spaces, not a URL path (`/api/v1`), made of name characters and slashes.
PATH = re.compile(r"`([A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]*)*)`")


def readme_section(title: str) -> str:
    """The text under the README's "## <title>" heading, up to the next "## " heading."""
    text = README.read_text()
    marker = f"\n## {title}\n"
    assert marker in text, f"the README has no '## {title}' section"
    return text.split(marker, 1)[1].split("\n## ", 1)[0]


def configuration_table() -> dict[str, str]:
    """Variable name -> default column of the table under "## Configuration"."""
    section = readme_section("Configuration")
    rows = re.findall(r"^\| `([A-Z0-9_]+)` \| ([^|]*) \|", section, flags=re.MULTILINE)
    return {name: default.strip() for name, default in rows}


def primary_environment_name(field_name: str) -> str:
    alias = Settings.model_fields[field_name].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0]).upper()
    return f"{Settings.model_config.get('env_prefix', '')}{field_name}".upper()


def test_configuration_table_lists_every_setting() -> None:
    """Each variable the settings class reads has a row in the README's configuration table, and no row is stale."""
    listed = set(configuration_table())
    wanted = {primary_environment_name(name) for name in Settings.model_fields}
    assert wanted - listed == set(), "missing from the README's configuration table"
    assert listed - wanted == set(), "in the README's configuration table but not a setting"


def test_configuration_table_states_each_default() -> None:
    """A setting with a plain default shows that value; one without a default says none (or what applies instead)."""
    table = configuration_table()
    for name, field in Settings.model_fields.items():
        shown = table[primary_environment_name(name)]
        default = field.default
        if default is None or default is PydanticUndefined or isinstance(default, (list, Path)):
            assert shown, f"{name}: the default column is empty"
            continue
        if isinstance(default, bool):
            expected = str(default).lower()
        elif isinstance(default, float) and default.is_integer():
            expected = str(int(default))
        else:
            expected = str(default)
        assert f"`{expected}`" in shown, f"{name}: README says {shown}, the default is {expected!r}"


def code_map() -> tuple[set[str], set[str]]:
    """The code map's rows: the paths their first column names, and every path named anywhere in the section.

    A first column may name several paths (`deploy/`, `examples/`); elsewhere only a backticked token with a slash
    counts as a path, so that `env.py` in a sentence about `migrations/` is not taken for a file at the root."""
    rows = re.findall(r"^\| ([^|]+) \|", readme_section(CODE_MAP), flags=re.MULTILINE)
    heads = {path for row in rows for path in PATH.findall(row)}
    named = {path for path in PATH.findall(readme_section(CODE_MAP)) if "/" in path} | heads
    return heads, named


def top_level_python() -> set[str]:
    """The repository's top-level Python packages (`models/`) and modules (`worker.py`)."""
    skipped = {"build", "dist"}
    packages = {
        f"{entry.name}/"
        for entry in ROOT.iterdir()
        if entry.is_dir() and not entry.name.startswith(".") and entry.name not in skipped
        if (entry / "__init__.py").exists()
    }
    modules = {entry.name for entry in ROOT.glob("*.py")}
    return packages | modules


def test_code_map_paths_exist() -> None:
    """Every file or folder the README's code map names exists, so a module that moved is caught by name."""
    _, named = code_map()
    assert named, f"no paths found under the README's '## {CODE_MAP}'"
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert missing == [], (
        f"the README's '## {CODE_MAP}' names {', '.join(missing)}, not in the tree: point its line at where the "
        "code lives now, or drop the line"
    )


def test_code_map_names_every_top_level_package() -> None:
    """Each top-level Python package and module of the repository has a line of its own in the README's code map."""
    heads, _ = code_map()
    unlisted = sorted(top_level_python() - heads)
    assert unlisted == [], (
        f"top-level {', '.join(unlisted)} not in the first column of the README's '## {CODE_MAP}': add a line "
        "saying what lives there"
    )
