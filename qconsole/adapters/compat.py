"""Does an adapter fit this base, and can llama.cpp apply it? Decided from headers alone.

The truth is in the tensors: every lora_A [r, in] / lora_B [out, r] pair must land on a tensor of
the base GGUF with exactly those widths (GGUF stores a matrix as [in, out]). That works for a PEFT
directory dropped in from anywhere (Unsloth's ``base_model_name_or_path`` often names a 4-bit hub
repo we cannot resolve). qconsole's own metadata adds the base's shape signature, compared first
for a clearer reason, and its file hash, which only warns: a requantised file of the same model
is fine to use.

Refused, each with a one-line reason: another base (shapes), a target llama.cpp has no tensor for
(a LoRA on an lm_head the base ties to its embeddings, on embed_tokens, on a vision tower), DoRA,
full weights in ``modules_to_save``, non-LoRA PEFT methods, inconsistent ranks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qconsole.adapters.metadata import AdapterMeta
from qconsole.adapters.peft_files import PeftAdapterFiles
from qconsole.adapters.targets import SUPPORTED_ARCHS, gguf_tensor_name
from qconsole.models.fingerprint import GGUFHeader, shape_signature_of, signature_mismatch


@dataclass
class CompatReport:
    usable: bool
    reason: str | None = None
    warnings: list[str] = field(default_factory=list)


# PEFT LoRA variants whose forward pass is not W + s * B @ A on every token.
_VARIANTS = (
    ("use_dora", "DoRA"),
    ("use_qalora", "QA-LoRA"),
    ("alora_invocation_tokens", "activated LoRA"),
    ("lora_bias", "LoRA-with-bias"),
    ("layer_replication", "layer-replicating"),
    ("target_parameters", "parameter-targeting"),
    ("trainable_token_indices", "trainable-token"),
)


def _refuse(reason: str, warnings: list[str] | None = None) -> CompatReport:
    return CompatReport(False, reason, warnings or [])


def _other_keys_reason(keys: tuple[str, ...]) -> str:
    if any("lora_embedding" in k for k in keys):
        return "LoRA on the token embeddings (embed_tokens): not converted for llama.cpp"
    if any("lora_magnitude" in k for k in keys):
        return "DoRA adapter: llama.cpp applies plain LoRA only"
    if any(".bias" in k for k in keys):
        return "LoRA with bias terms: llama.cpp applies plain LoRA only"
    if any("modules_to_save" in k or "original_module" in k for k in keys):
        return "holds full weights (modules_to_save): a GGUF LoRA cannot carry them"
    return f"tensors that are not LoRA matrices, e.g. {keys[0]}"


def check_compat(
    files: PeftAdapterFiles,
    meta: AdapterMeta | None,
    base: GGUFHeader,
    base_sha256: str | None = None,
) -> CompatReport:
    """Decide whether the adapter in ``files`` can be used with ``base`` through llama.cpp."""
    warnings: list[str] = []
    cfg = files.config
    peft_type = str(cfg.get("peft_type") or "LORA").upper()
    if peft_type != "LORA":
        return _refuse(f"{peft_type} adapter: only LoRA can be applied by llama.cpp")
    for key, what in _VARIANTS:
        if cfg.get(key):
            return _refuse(f"{what} adapter ({key}): llama.cpp applies plain LoRA only")
    if files.other_keys:
        return _refuse(_other_keys_reason(files.other_keys))
    if files.incomplete:
        return _refuse(f"incomplete LoRA pair (A or B missing) at {files.incomplete[0]}")
    if not files.pairs:
        return _refuse("no LoRA tensors in adapter_model.safetensors")
    arch = base.architecture
    if arch not in SUPPORTED_ARCHS:
        return _refuse(
            f"base architecture {arch!r} is not supported for GGUF LoRA "
            f"(supported: {', '.join(SUPPORTED_ARCHS)})"
        )
    if meta is not None:
        diff = signature_mismatch(meta.base_shape, shape_signature_of(base))
        if diff:
            return _refuse(f"made for another base ({meta.base_name or 'unknown'}): {diff}")
        if meta.base_sha256 and base_sha256 and meta.base_sha256 != base_sha256:
            warnings.append(
                f"trained on another file of the same shape ({meta.base_name}); "
                "outputs may differ from training"
            )
    origin = cfg.get("base_model_name_or_path")
    another = f"made for another base ({origin})" if origin else "made for another base"
    n_blocks = int(base.arch_value("block_count") or 0)
    for pair in files.pairs.values():
        if pair.a_shape[0] != pair.b_shape[1]:
            return _refuse(f"inconsistent LoRA rank at {pair.module}")
        name = gguf_tensor_name(arch, n_blocks, pair.module)
        tensor = base.tensors.get(name) if name else None
        if tensor is None:
            if pair.short_name == "lm_head" and name == "output.weight":
                return _refuse(
                    "LoRA on lm_head, which this base ties to its embeddings: "
                    "llama.cpp cannot apply it"
                )
            if name is None and ".layers." in pair.module:
                # a layer index beyond this base's depth, or a block module it does not have
                return _refuse(f"{another}: no tensor for {pair.module} in this base")
            return _refuse(f"LoRA on {pair.module}, which llama.cpp has no tensor for here")
        if len(tensor.shape) != 2 or tensor.shape != (pair.in_features, pair.out_features):
            base_in, base_out = (tuple(tensor.shape) + (0, 0))[:2]
            return _refuse(
                f"{another}: {pair.module} is {pair.in_features}->{pair.out_features} "
                f"in the adapter, {base_in}->{base_out} in the base"
            )
    return CompatReport(True, None, warnings)
