"""Export a trained adapter for other runtimes: a merged transformers model, GGUF files for llama.cpp (the model,
a quantized copy, or the LoRA on its own), ONNX, and a push to the Hugging Face Hub, each checked against
transformers after it is written.

Modules: `merge` (PEFT merge), `gguf_model` (transformers → GGUF), `gguf_lora` (PEFT LoRA → GGUF LoRA),
`quantize` (llama.cpp quantization), `verify` (llama.cpp against transformers), `onnx_export`, `hub`,
`card` (the model card), `files` (atomic folders, file inventories) and `cli` (`python -m medgemma export`).
Heavy libraries are imported inside the functions, so importing this package costs nothing.
"""
