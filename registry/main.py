"""The ASGI app built from the environment, for `uvicorn registry.main:app` and multi-worker serve."""

from registry.app import create_app
from registry.settings import Settings

app = create_app(Settings.from_env())
