"""The ASGI entry point as a server process loads it."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_loaded_application_is_kept_out_of_full_collections():
    """A full collection walking the loaded heap stopped every socket for up to 180 ms; the
    server freezes what it loaded (``gc.freeze``), so passes walk only what came after."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)}
    probe = "import gc, dianxiaoer.asgi; print(gc.get_freeze_count())"
    frozen = subprocess.run([sys.executable, "-c", probe], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    assert int(frozen.stdout) > 50_000  # Django, Channels and the apps: well over 100,000 objects
