"""MedGemma Studio as a web app: `python app.py` (or `uvicorn app:app`) serves the full app at "/", the
iframe layout at "/embed/" and the API at "/v1/chat/completions" and "/health"."""

from medgemma.config import AppConfig
from medgemma.runtime import Runtime
from medgemma.ui.server import build_app, serve

config = AppConfig.from_env()
runtime = Runtime(config)
app = build_app(runtime)

if __name__ == "__main__":
    serve(runtime, app)
