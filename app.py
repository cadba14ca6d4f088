"""MedGemma Studio as a Gradio app. `demo` follows the Hugging Face Spaces convention."""

from medgemma.config import AppConfig
from medgemma.runtime import Runtime
from medgemma.ui import build_ui, launch_kwargs

config = AppConfig.from_env()
runtime = Runtime(config)
demo = build_ui(runtime)

if __name__ == "__main__":
    runtime.warm_up()
    demo.queue(default_concurrency_limit=4).launch(
        server_name=config.host, server_port=config.port, **launch_kwargs()
    )
