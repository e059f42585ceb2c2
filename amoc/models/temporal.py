"""Motion context accumulation (Sec. III-C2): the RNN of Eq. 4-5 and temporal pooling, Eq. 6-7.

o(t) = M f(t) + N r(t-1), r(t) = tanh(o(t)), r(0) = 0; the pooled feature averages (Eq. 6) or
takes the element-wise maximum (Eq. 7) of the outputs o(1..T), not of the states r(t).

Choices the paper leaves open: M carries a bias and N does not (one bias per unit is enough);
the baseline applies dropout to r(t-1) before N, available as ``recurrent_dropout`` (0 = Eq. 4).
``recurrence=False`` (an ablation, not the paper) drops N: o(t) = M f(t), so the pooled feature
is temporal pooling of per-frame features, and what the RNN adds can be measured.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


class RecurrentAccumulator(nn.Module):
    """The RNN of Eq. 4-5, returning every output o(t).

    Args:
        in_dim: p, the size of the fused feature f(t).
        embedding: q, the size of o(t) and r(t) (128 in the paper; 64..1024 studied).
        recurrent_dropout: dropout on r(t-1) before N (baseline only; 0 follows the paper).
        recurrence: False: no N (o(t) = M f(t)), the per-frame ablation.
    """

    def __init__(self, in_dim: int, embedding: int, recurrent_dropout: float = 0.0,
                 recurrence: bool = True) -> None:
        super().__init__()
        self.input_proj = nn.Linear(in_dim, embedding)  # M (and the bias)
        self.recurrent = nn.Linear(embedding, embedding, bias=False) if recurrence else None  # N
        self.dropout = nn.Dropout(recurrent_dropout)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        """Unroll over time.

        Shape:
            f (B, T, p) -> o (B, T, q).
        """
        mf = self.input_proj(f)  # (B, T, q): M f(t) for all steps in one matmul
        if self.recurrent is None:
            return mf
        outputs = [mf[:, 0]]  # r(0) = 0, so o(1) = M f(1)
        for t in range(1, f.shape[1]):
            r = self.dropout(torch.tanh(outputs[-1]))
            outputs.append(mf[:, t] + self.recurrent(r))
        return torch.stack(outputs, dim=1)


def _avg(o: torch.Tensor) -> torch.Tensor:
    return o.mean(dim=1)


def _max(o: torch.Tensor) -> torch.Tensor:
    return o.amax(dim=1)


# Registry: temporal pooling name -> function (B, T, q) -> (B, q).
POOLINGS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"avg": _avg, "max": _max}
