"""Model files: where they come from (resolve), what they are (gguf_info), the embedded default."""
