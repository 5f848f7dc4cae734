"""The transformers side of qconsole: a GGUF base opened as a PyTorch model for PEFT and training.

llama.cpp serves the chat; transformers is needed only to train adapters and to check them
(``qconsole adapters verify``). Nothing here is imported by the console until it is used.
"""
