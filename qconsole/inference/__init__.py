"""Inference core: loading a GGUF into llama.cpp, streaming replies, switching LoRA adapters.

Imports no Textual; llama_cpp itself is imported only when a model is loaded.
"""
