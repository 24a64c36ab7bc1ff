"""The README's configuration table against the settings class: every variable listed, with its default."""

import re
from pathlib import Path

from pydantic import AliasChoices
from pydantic_core import PydanticUndefined

from core.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def configuration_table() -> dict[str, str]:
    """Variable name -> default column of the table under "## Configuration"."""
    section = README.read_text().split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
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
