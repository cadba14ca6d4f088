"""MedGemma Studio: medical question answering from cited sources, on small Gemma models.

Importing the package is cheap: heavy libraries (torch, llama_cpp, faiss, gradio) load inside the modules
that use them.
"""

__version__ = "0.1.0"
