"""Turning a person's corrections into a LoRA adapter.

The pieces, each in its own module:

- ``examples.py``: what one training example is (context, user message, target reply, ids),
  drawn from the store's corrections, preference pairs and replay files;
- ``dataset.py``: the examples rendered with the chat's own prompt template and tokenised the
  way llama.cpp tokenises the chat's prompt, loss on the reply (and its end-of-turn) only;
- ``settings.py``: hyper-parameters and presets;
- ``packing.py`` and ``loop.py``: a padding-free training loop for transformers + PEFT;
- ``backends.py`` chooses among ``peft_backend.py`` (CPU or one GPU), ``unsloth_backend.py``
  (one GPU) and ``ddp_backend.py`` (several GPUs); ``backend_api.py`` is their shared shape:
  every one writes the same standard PEFT adapter;
- ``hardware.py``: bf16 / CUDA / Unsloth detection, and OpenMP threads that sleep instead of
  spinning on a shared CPU;
- ``pipeline.py``: one whole cycle: data, fresh adapter from the base, save, GGUF LoRA,
  equivalence check, install into the registry;
- ``launch.py``: the console's side: settings to ``qconsole train`` flags, starting the job,
  folding its events into what a training pane shows.

Nothing here imports Textual; torch, transformers and PEFT are imported inside functions, so
the console can import this package to show a preview without paying for them.
"""
