"""The wheel: one top-level package, okr_service, with the Alembic folder inside it (no
`service` or `migrations` to collide with anything), and it works without the checkout.
Built offline from a copy of the sources (no build isolation, nothing left in the checkout)."""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from okr_service.kit.migrate import alembic_config

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "service" / "okr_service"
SOURCES = ("pyproject.toml", "README.md", "service", "migrations")
# setuptools builds wheels by itself from 70.1 on (no `wheel` package needed).
BUILDS_WHEELS = (70, 1)


def can_build() -> bool:
    try:
        major, minor = version("setuptools").split(".")[:2]
    except (PackageNotFoundError, ValueError):
        return False
    return (int(major), int(minor)) >= BUILDS_WHEELS


pytestmark = pytest.mark.skipif(
    os.environ.get("CI") != "true" and not can_build(),
    reason="needs setuptools>=70.1 to build the wheel offline (pip install -e '.[dev]')",
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sources = tmp_path_factory.mktemp("sources")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            ignored = shutil.ignore_patterns("__pycache__", "*.egg-info")
            shutil.copytree(ROOT / name, sources / name, ignore=ignored)
        else:
            shutil.copy2(ROOT / name, sources / name)
    out = tmp_path_factory.mktemp("wheel")
    build = f"from setuptools import build_meta; print(build_meta.build_wheel({str(out)!r}))"
    built = subprocess.run(
        [sys.executable, "-c", build],
        cwd=sources,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return out / built.stdout.splitlines()[-1]


def names_in(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def test_the_only_top_level_package_is_okr_service(wheel: Path) -> None:
    top_level = {name.split("/")[0] for name in names_in(wheel)}
    assert {name for name in top_level if not name.endswith(".dist-info")} == {"okr_service"}
    assert not [name for name in names_in(wheel) if "__pycache__" in name]


def test_every_module_migration_and_asset_is_in_the_wheel(wheel: Path) -> None:
    def files_under(folder: Path, pattern: str, prefix: str) -> set[str]:
        return {
            prefix + path.relative_to(folder).as_posix()
            for path in folder.rglob(pattern)
            if path.is_file() and "__pycache__" not in path.parts
        }

    modules = files_under(PACKAGE, "*.py", "okr_service/")
    migrations = files_under(ROOT / "migrations", "*", "okr_service/migrations/")
    assets = files_under(
        PACKAGE / "graphql" / "ide" / "assets", "*.gz", "okr_service/graphql/ide/assets/"
    )
    assert "okr_service/migrations/alembic.ini" in migrations
    assert assets
    assert (modules | migrations | assets) - set(names_in(wheel)) == set()


def test_the_command_keeps_its_name(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (entry_points,) = [n for n in archive.namelist() if n.endswith("entry_points.txt")]
        text = archive.read(entry_points).decode()
    assert "okr-service = okr_service.cli:main" in text


def test_the_wheel_alone_finds_its_migrations_and_writes_contracts_where_told(
    wheel: Path, tmp_path: Path
) -> None:
    installed = tmp_path / "site"  # a pure-Python wheel installs by unpacking
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(installed)
    out = tmp_path / "contracts"
    probe = (
        "import json, okr_service; from alembic.script import ScriptDirectory; "
        "from okr_service.cli import main; "
        "from okr_service.kit.migrate import MIGRATIONS_DIR, alembic_config; "
        "head = ScriptDirectory.from_config(alembic_config()).get_current_head(); "
        "print(json.dumps([okr_service.__file__, str(MIGRATIONS_DIR), head])); "
        f"main(['export-contracts', '--out', {str(out)!r}])"
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OKR_")}
    environment["PYTHONPATH"] = str(installed)  # ahead of the checkout's editable install
    ran = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    module, migrations, head = json.loads(ran.stdout.splitlines()[0])
    assert module == str(installed / "okr_service" / "__init__.py")
    assert migrations == str(installed / "okr_service" / "migrations")
    assert head == ScriptDirectory.from_config(alembic_config()).get_current_head()
    for contract in ("schema/schema.graphql", "openapi/openapi.json"):
        assert (out / contract).read_text() == (ROOT / contract).read_text()
