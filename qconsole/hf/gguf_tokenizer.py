"""Build a Gemma GGUF's tokenizer ourselves, so every supported transformers gives llama.cpp's ids.

Why not transformers' own GGUF conversion: it was rewritten between 5.17 (what the ``gpu`` extra
resolves to, because Unsloth caps transformers) and 5.24. 5.17 turns a Gemma vocabulary into a
Unigram model without BOS: "The capital of France is" becomes 24 one-character tokens instead of
llama.cpp's 6, so training would learn from other ids than llama.cpp reads. 5.24 rebuilds the BPE
merges from the order of the vocabulary (Gemma's scores do not follow its merge order). This
module does what 5.24 does, with the pieces that are identical in both versions
(``GemmaTokenizer``, ``generate_merges``); tests check the result token for token against
llama.cpp. Other vocabularies (byte-level BPE: Qwen, SmolLM2, Llama 3) still go through
transformers, whose conversion of them agrees with llama.cpp in both versions.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qconsole.models.fingerprint import GGUFHeader

if TYPE_CHECKING:  # pragma: no cover
    from transformers import PreTrainedTokenizerBase

GEMMA_ARCHITECTURES = frozenset({"gemma", "gemma2", "gemma3"})
_CONTROL, _USER_DEFINED = 3, 4  # llama.cpp token types
_STRING, _ARRAY = 8, 9
_INTS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 10: "<Q", 11: "<q"}


def builds_own_tokenizer(header: GGUFHeader) -> bool:
    """True for the SentencePiece Gemma vocabularies this module converts."""
    return (
        header.architecture in GEMMA_ARCHITECTURES
        and header.metadata.get("tokenizer.ggml.model") == "llama"
    )


def read_gguf_array(path: str | os.PathLike[str], header: GGUFHeader, key: str) -> list[Any]:
    """The full value of one metadata array (strings or integers), read from its byte span.

    The header keeps only short arrays; the vocabulary (262k strings for Gemma) is read here,
    in about a second, without the seconds gguf.GGUFReader spends on a view per element.
    """
    span = header.kv_spans.get(key)
    if span is None:
        raise KeyError(key)
    with open(Path(path), "rb", buffering=1 << 20) as fh:
        fh.seek(span[0])
        (klen,) = struct.unpack("<Q", fh.read(8))
        fh.seek(klen, os.SEEK_CUR)
        vtype, sub, count = struct.unpack("<IIQ", fh.read(16))
        if vtype != _ARRAY:
            raise ValueError(f"{key} is not an array")
        if sub == _STRING:
            out = []
            for _ in range(count):
                (n,) = struct.unpack("<Q", fh.read(8))
                out.append(fh.read(n).decode("utf-8", "replace"))
            return out
        if sub in _INTS:
            fmt = _INTS[sub]
            raw = fh.read(struct.calcsize(fmt) * count)
            return [v[0] for v in struct.iter_unpack(fmt, raw)]
    raise ValueError(f"unsupported element type {sub} in {key}")


def build_gemma_tokenizer(
    src: str | os.PathLike[str], header: GGUFHeader
) -> PreTrainedTokenizerBase:
    """A ``GemmaTokenizer`` equal to transformers 5.24's conversion of this GGUF."""
    from tokenizers import AddedToken
    from transformers.models.gemma.tokenization_gemma import GemmaTokenizer
    from transformers.tokenization_utils_base import generate_merges

    meta = header.metadata
    spelled = read_gguf_array(src, header, "tokenizer.ggml.tokens")
    # A token of two or more spaces is stored as spaces; GemmaTokenizer looks it up as "▁▁".
    tokens = ["\u2581" * len(t) if " " in t and not t.strip() else t for t in spelled]
    types = read_gguf_array(src, header, "tokenizer.ggml.token_type")
    vocab = {token: index for index, token in enumerate(tokens)}
    # No merges in the file: rebuild them best-first in file order (Gemma's scores are not it).
    merges = generate_merges(vocab, {token: -index for index, token in enumerate(tokens)})
    backend = GemmaTokenizer(vocab=vocab, merges=merges)
    # Control tokens stay whole and special; user-defined ones stay whole (llama.cpp matches
    # both). As in 5.24, a user-defined token is looked up by its spelling in the file.
    control = [AddedToken(t, normalized=False, special=True)
               for t, kind in zip(tokens, types, strict=False) if kind == _CONTROL]
    if control:
        backend.add_special_tokens(
            {"additional_special_tokens": control}, replace_extra_special_tokens=False
        )
    user_defined = [AddedToken(t, normalized=False, special=False)
                    for t, kind in zip(spelled, types, strict=False)
                    if kind == _USER_DEFINED and t in vocab]
    if user_defined:
        backend.add_tokens(user_defined)

    def token(key: str) -> str | None:
        token_id = meta.get(f"tokenizer.ggml.{key}")
        return tokens[token_id] if token_id is not None and 0 <= token_id < len(tokens) else None

    kwargs: dict[str, Any] = {
        name: value
        for name, value in (
            ("bos_token", token("bos_token_id")),
            ("eos_token", token("eos_token_id")),
            ("unk_token", token("unknown_token_id")),
            ("pad_token", token("padding_token_id")),
        )
        if value is not None
    }
    add_bos = meta.get("tokenizer.ggml.add_bos_token")
    kwargs["add_bos_token"] = True if add_bos is None else bool(add_bos)  # llama.cpp's default
    kwargs["add_eos_token"] = bool(meta.get("tokenizer.ggml.add_eos_token", False))
    if meta.get("tokenizer.chat_template"):
        kwargs["chat_template"] = meta["tokenizer.chat_template"]
    # Wrapped the way transformers wraps a converted backend, so the saved files match its own.
    return GemmaTokenizer(tokenizer_object=backend.backend_tokenizer, **kwargs)
