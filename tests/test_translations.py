"""The catalogs are complete and compiled: a string added to the code without a Chinese
translation, or a .po edit left uncompiled, shows English (or the old text) to users."""
import gettext
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LOCALES = ("zh_Hans", "en")
# What makemessages walks besides its sources: nothing here holds a translatable string.
NOT_SOURCES = shutil.ignore_patterns(".*", "__pycache__", "var", "artifacts", "media", "staticfiles", "vendor", "*.mo")


@pytest.fixture(scope="module")
def gettext_tools():
    if not (shutil.which("xgettext") and shutil.which("msgfmt") and shutil.which("msgattrib")):
        pytest.skip("the catalog tests need GNU gettext (apt-get install -y gettext)")


def _env(tmp_path: Path) -> dict:
    env = {key: value for key, value in os.environ.items() if key in {"PATH", "HOME", "LANG", "LC_ALL"}}
    env.update(DJANGO_SETTINGS_MODULE="dianxiaoer.settings", DEBUG="1", SECRET_KEY="catalog-test", DXE_VAR_DIR=str(tmp_path / "var"))
    return env


def _entries(po: Path, *flags: str) -> list[str]:
    """The entries of ``po`` that msgattrib selects with ``flags``, header left out."""
    result = subprocess.run(["msgattrib", *flags, str(po)], capture_output=True, text=True, check=True)
    # msgattrib prints nothing when nothing is selected, else the header entry first.
    return result.stdout.strip().split("\n\n")[1:]


def test_every_source_string_has_a_chinese_translation(tmp_path, gettext_tools):
    # makemessages writes the catalogs it updates, so it runs on a copy of the sources.
    copy = tmp_path / "src"
    shutil.copytree(REPO, copy, ignore=NOT_SOURCES)
    result = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "--no-obsolete"],
        cwd=copy,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    po = copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
    # A new string is untranslated there, or fuzzy: makemessages guessed from a similar one.
    missing = _entries(po, "--untranslated", "--no-obsolete") + _entries(po, "--only-fuzzy", "--no-obsolete")
    assert not missing, (
        "strings without a Chinese translation (run makemessages -l zh_Hans, translate, compilemessages):\n\n"
        + "\n\n".join(missing)
    )


@pytest.mark.parametrize("locale", LOCALES)
def test_the_compiled_catalog_is_the_po_file(tmp_path, gettext_tools, locale):
    folder = REPO / "locale" / locale / "LC_MESSAGES"
    compiled = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check-format", "-o", str(compiled), str(folder / "django.po")], check=True)
    with open(compiled, "rb") as fresh, open(folder / "django.mo", "rb") as committed:
        assert gettext.GNUTranslations(committed)._catalog == gettext.GNUTranslations(fresh)._catalog, (
            f"locale/{locale}: django.mo is not compiled from django.po (run manage.py compilemessages)"
        )
