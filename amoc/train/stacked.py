"""K models of one architecture as one set of stacked parameters, run together under ``vmap``.

Each member model keeps its own ``nn.Parameter`` objects, but their storage is a slice of one
stacked leaf tensor per parameter (shape ``(K, *largest shape)``): a forward/backward of all K
models is one ``torch.func.vmap`` of ``functional_call`` over the stacked tensors (convolutions
become grouped convolutions, matmuls batched matmuls), and an update through a member's own
optimiser writes straight into the stack. Members may differ in a parameter's size (a split with
fewer training identities has a smaller classifier): the smaller one is the leading corner of
the stacked slot, the rest is zero and its logits are masked to -inf, so it gets no gradient and
changes neither the loss nor the model's own trajectory.

Buffers are shared from the first member (they must be constants: a module that updates a
buffer in forward, such as batch norm's running statistics, is refused).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn
from torch.func import functional_call, vmap

from amoc.errors import ConfigError
from amoc.losses import multitask_loss


def _corner(shape: torch.Size) -> tuple[slice, ...]:
    return tuple(slice(0, n) for n in shape)


class StackedModels:
    """The parameters of K models stacked on a leading axis; members read and write through views.

    Args:
        models: K models of one class (each already on its device, its optimiser built).
        num_classes: each member's classifier size (the logits beyond it are masked).
    """

    def __init__(self, models: list[nn.Module], num_classes: list[int]) -> None:
        if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in models[0].modules()):
            raise ConfigError("lockstep training: the model has batch-norm running statistics "
                              "(buffers updated in forward); train it without lockstep")
        self.base, self.models = models[0], models
        named = [dict(m.named_parameters()) for m in models]
        if any(list(n) != list(named[0]) for n in named):
            raise ConfigError("lockstep training: the models' parameters differ by name; every "
                              "member needs the same model config (only num_classes may vary)")
        self.params: dict[str, torch.Tensor] = {}
        for name, first in named[0].items():
            shapes = [n[name].shape for n in named]
            if any(len(s) != len(first.shape) for s in shapes):
                raise ConfigError(f"lockstep training: parameter {name} has different ranks")
            full = tuple(max(s[d] for s in shapes) for d in range(len(first.shape)))
            stack = first.new_zeros((len(models), *full))
            for k, n in enumerate(named):
                stack[k][_corner(n[name].shape)] = n[name].detach()
            self.params[name] = stack.requires_grad_(first.requires_grad)
            for k, n in enumerate(named):
                n[name].data = stack.data[k][_corner(n[name].shape)]
        self.buffers = dict(self.base.named_buffers())
        self.num_classes = list(num_classes)
        width = max(self.num_classes)
        mask = torch.zeros(len(models), width, device=first.device)
        for k, c in enumerate(self.num_classes):
            mask[k, c:] = float("-inf")
        self.class_mask = mask

    def __len__(self) -> int:
        return len(self.models)

    def losses(self, members: list[int], frames: torch.Tensor, flow: torch.Tensor | None,
               labels: torch.Tensor, margins: torch.Tensor) -> torch.Tensor:
        """Eq. 11 of each chosen member on its own pairs, differentiable w.r.t. the stack.

        Shape:
            frames (k, 2P, T, 3, H, W); flow (k, 2P, T-1, 2, H/2, W/2) or None; labels (k, 2P);
            margins (k,) -> (k, 3): total, contrastive, identity (both sequences) per member.
        """
        params, mask = self.params, self.class_mask  # all K: no copies (CUDA-graph capturable)
        if members != list(range(len(self))):
            index = torch.as_tensor(members, device=frames.device)
            params = {n: p.index_select(0, index) for n, p in params.items()}
            mask = mask.index_select(0, index)
        self.base.train()

        def one(params, frames, flow, labels, margin, mask):
            out = functional_call(self.base, (params, self.buffers), (frames, flow))
            logits = out.logits + mask.to(out.logits.dtype)
            p = labels.shape[0] // 2
            loss = multitask_loss(out.features[:p], out.features[p:], logits[:p], logits[p:],
                                  labels[:p], labels[p:], margin)
            return torch.stack([loss.total, loss.contrastive, loss.identity_a + loss.identity_b])

        flow_dim = None if flow is None else 0
        return vmap(one, in_dims=(0, 0, flow_dim, 0, 0, 0), randomness="different")(
            params, frames, flow, labels, margins, mask)

    def zero_grad(self) -> None:
        """Drop the stacked gradients (set to None, as ``zero_grad(set_to_none=True)``)."""
        for p in self.params.values():
            p.grad = None

    def hand_grads(self, k: int) -> None:
        """Point member ``k``'s ``.grad`` at its slice of the stacked gradients (no copy)."""
        for name, p in self.models[k].named_parameters():
            stacked = self.params[name].grad
            p.grad = None if stacked is None else stacked[k][_corner(p.shape)]


@contextmanager
def compact(model: nn.Module) -> Iterator[None]:
    """Inside the block the member's parameters own their storage (``torch.save`` of a view
    would write the whole stack); afterwards they are views into the stack again."""
    views = {name: p.data for name, p in model.named_parameters()}
    for name, p in model.named_parameters():
        p.data = views[name].clone()
    try:
        yield
    finally:
        for name, p in model.named_parameters():
            p.data = views[name]
