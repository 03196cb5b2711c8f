"""Inference copies of trained nets: batch norm folded into the convolution before it, channels-last layout.

In eval mode a BatchNorm2d after a Conv2d is an affine map per output channel, so the pair is one
convolution with rescaled weights (:func:`fused_for_inference`). Frozen members of an ensemble that are
evaluated on many noisy copies (randomized-smoothing certification) run about twice as fast on a CPU.
"""

from __future__ import annotations

import copy
from collections import Counter

import torch
import torch.fx
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from collapselab.nn.pool import AvgPool2d, MaxPool2d


def _foldable(conv: nn.Module, bn: nn.Module) -> bool:
    """A Conv2d followed by a BatchNorm2d that normalises with running statistics in eval mode."""
    return (type(conv) is nn.Conv2d and type(bn) is nn.BatchNorm2d and not bn.training
            and bn.track_running_stats and bn.running_mean is not None and bn.running_var is not None
            and bn.num_features == conv.out_channels)


def _pairs_in_sequentials(model: nn.Module) -> list[tuple[str, str]]:
    """(conv, bn) qualified names of adjacent children of a plain nn.Sequential, both held nowhere else
    in the model: the conv's output is the batch norm's only input."""
    seen = Counter(id(m) for _, m in model.named_modules(remove_duplicate=False))
    pairs = []
    for name, mod in model.named_modules():
        if type(mod) is nn.Sequential:
            kids = list(mod.named_children())
            pre = f"{name}." if name else ""
            pairs += [(pre + a, pre + b) for (a, m1), (b, m2) in zip(kids, kids[1:])
                      if _foldable(m1, m2) and seen[id(m1)] == 1 and seen[id(m2)] == 1]
    return pairs


class _Tracer(torch.fx.Tracer):
    """torch.fx's tracer, with :mod:`collapselab.nn.pool`'s layers kept as leaves like torch's own."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return isinstance(m, (AvgPool2d, MaxPool2d)) or super().is_leaf_module(m, module_qualified_name)


def _pairs_in_graph(model: nn.Module) -> list[tuple[str, str]] | None:
    """(conv, bn) names from the dataflow graph of ``model`` (torch.fx symbolic trace): the bn's only
    input is the conv's output, which nothing else reads, and each module is called exactly once and its
    parameters are read nowhere else. None when the model cannot be traced."""
    try:
        graph = _Tracer().trace(model)
    except Exception:  # noqa: BLE001 -- data-dependent control flow etc.: fall back to nn.Sequential pairs
        return None
    calls = Counter(n.target for n in graph.nodes if n.op == "call_module")
    attrs = [str(n.target) for n in graph.nodes if n.op == "get_attr"]
    modules = dict(model.named_modules())
    pairs = []
    for node in graph.nodes:
        if node.op != "call_module" or len(node.args) != 1 or node.kwargs:
            continue
        src = node.args[0]
        if not (isinstance(src, torch.fx.Node) and src.op == "call_module" and len(src.users) == 1):
            continue
        conv, bn = str(src.target), str(node.target)
        if calls[conv] != 1 or calls[bn] != 1 or any(a.startswith((conv + ".", bn + ".")) for a in attrs):
            continue
        if _foldable(modules[conv], modules[bn]):
            pairs.append((conv, bn))
    return pairs


_FRESH = (nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.AvgPool2d, nn.MaxPool2d, AvgPool2d, MaxPool2d)  # new tensors
_PASS = (nn.Identity, nn.Dropout, nn.Flatten)  # return their input or a view of it (Dropout in eval)


def _relus_in_place(model: nn.Module) -> None:
    """ReLU children of a plain nn.Sequential act in place where their input is a fresh tensor made
    earlier in the same sequential (through pass-through modules only), read by nothing else."""
    for mod in model.modules():
        if type(mod) is not nn.Sequential:
            continue
        kids = list(mod.children())
        for i, m in enumerate(kids):
            if type(m) is not nn.ReLU:
                continue
            j = i - 1
            while j >= 0 and type(kids[j]) in _PASS:
                j -= 1
            if j >= 0 and type(kids[j]) in _FRESH:
                m.inplace = True


def _set(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, leaf = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, leaf, module)


def fused_for_inference(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` in eval mode, each Conv2d -> BatchNorm2d pair folded into one Conv2d.

    In eval mode BN(y) = gamma (y - mean) / sqrt(var + eps) + beta per output channel, with the running
    mean and var, so BN(conv(x; w, b)) = conv(x; w', b') with

        w' = w * gamma / sqrt(var + eps)   (per output channel),
        b' = (b - mean) * gamma / sqrt(var + eps) + beta   (b = 0 for a conv without bias),

    (``torch.nn.utils.fusion.fuse_conv_bn_eval``); the batch norm becomes an Identity. A pair is folded
    only where the conv's output feeds the batch norm alone and each is used once: in the dataflow
    graph of a model that traces with ``torch.fx`` (the ``features`` of :class:`ConvNet`, the stem,
    blocks and shortcuts of :class:`collapselab.smoothing.CifarResNet`), else adjacent children of a
    plain nn.Sequential. Batch norms that use batch statistics in eval mode
    (``track_running_stats=False``) stay.

    Layout: a model with convolutions and no GroupNorm, LayerNorm or InstanceNorm is put in
    channels-last (faster on a CPU for batch-norm and plain conv nets), any other in the contiguous
    format (channels-last group norm is slower). A ReLU of an nn.Sequential acts in place where its
    input is a fresh tensor of the layers before it that nothing else reads.

    The outputs equal ``model.eval()``'s up to float rounding; ``model`` itself (values, layout and
    mode) is not modified; the copy keeps ``requires_grad`` as it was. Raises ValueError for anything
    but an nn.Module.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"`model` must be an nn.Module, got {type(model).__name__}")
    fused = copy.deepcopy(model).eval()
    pairs = _pairs_in_graph(fused)
    if pairs is None:
        pairs = _pairs_in_sequentials(fused)
    with torch.no_grad():
        for conv, bn in pairs:
            _set(fused, conv, fuse_conv_bn_eval(fused.get_submodule(conv), fused.get_submodule(bn)))
            _set(fused, bn, nn.Identity())
    _relus_in_place(fused)
    if prefers_channels_last(fused):
        fused = fused.to(memory_format=torch.channels_last)
    return fused


def prefers_channels_last(model: nn.Module) -> bool:
    """True for a conv net with batch norm or no normalisation (no GroupNorm, LayerNorm or InstanceNorm):
    the nets whose convolutions run faster in channels-last on a CPU (group-norm kernels are slower there,
    and a net without convolutions has no image layout)."""
    mods = list(model.modules())
    slow = (nn.GroupNorm, nn.LayerNorm, nn.InstanceNorm2d)
    return any(isinstance(m, nn.Conv2d) for m in mods) and not any(isinstance(m, slow) for m in mods)
