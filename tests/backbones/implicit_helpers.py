"""Shared pieces of the backbone tests (imported by test_core.py and test_fixed_point.py)."""
import torch

from backbones import ImplicitLayer


def contractive_layer(dtype=torch.float64, seed=None, **kw) -> ImplicitLayer:
    """A 6-wide implicit layer in eval mode whose G is far from trivial (weights near the spectral cap)."""
    if seed is not None:
        torch.manual_seed(seed)
    layer = ImplicitLayer(6, h_ratio=2.0, dtype=dtype, **kw)
    with torch.no_grad():
        for fc in (layer.fc_a, layer.fc_b):
            fc.weight.mul_(3.0)
            fc.bias.normal_(0, 0.1)
            fc.refresh(200)
    return layer.eval()
