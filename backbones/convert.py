"""Load checkpoints of the authors' reference code (github Toshihiro-Ota/imixer) into our models."""
from __future__ import annotations

import re
from typing import Dict, Mapping

import torch

_SN = {"weight_orig": "weight", "weight_u": "u", "weight_v": "v", "weight_sigma": "sigma", "bias": "bias"}


def convert_reference_state_dict(state_dict: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map a state dict saved by the authors' ``MlpMixer`` (timm key names, spectral-norm hooks with
    ``fc_sn1.weight_orig / _u / _v / _sigma``) to :class:`backbones.IMixer` keys.

    ``{'state_dict': ...}`` / ``{'model': ...}`` wrappers and a ``module.`` prefix are removed. A
    timm MLP-Mixer state dict (no ``fc_sn`` keys) passes through unchanged, ready for
    :class:`backbones.MLPMixer`.

    Example::

        model = build_backbone('imixer_s16_224', num_classes=10, h_ratio=2, n_iter=2)
        model.load_state_dict(convert_reference_state_dict(torch.load('checkpoint.pth.tar')))
    """
    for wrapper in ("state_dict", "model", "state_dict_ema"):
        if wrapper in state_dict and isinstance(state_dict[wrapper], Mapping):
            state_dict = state_dict[wrapper]
            break
    implicit_blocks = {m.group(1) for k in state_dict
                       for m in [re.match(r"(?:module\.)?blocks\.(\d+)\.mlp_tokens\.fc_sn1\.", k)] if m}
    out: Dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        key = key[len("module."):] if key.startswith("module.") else key
        m = re.match(r"blocks\.(\d+)\.mlp_tokens\.(fc1|fc2|fc_sn1|fc_sn2)\.(\w+)$", key)
        if m and m.group(1) in implicit_blocks:
            block, layer, param = m.groups()
            prefix = f"blocks.{block}.mlp_tokens."
            if layer in ("fc1", "fc2"):
                key = prefix + ("fc_in." if layer == "fc1" else "fc_out.") + param
            else:
                if param not in _SN:
                    raise KeyError(f"unexpected spectral-norm entry {key!r} in the reference state dict")
                key = prefix + "implicit." + ("fc_a." if layer == "fc_sn1" else "fc_b.") + _SN[param]
                if param == "weight_sigma":
                    value = value.reshape(1)
        out[key] = value
    return out
