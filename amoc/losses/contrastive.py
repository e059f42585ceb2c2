"""Contrastive (Siamese) loss of Eq. 10 on pooled sequence features.

Eq. 10 reads L = ||u_a - u_b+||^2 + max(0, alpha - ||u_a - u_b-||)^2 in the PDF's layout (norm
subscript 2 and a square on both terms); the square of the negative term is read as applying to
the hinge, i.e. the Hadsell et al. (2006) form: positives are pulled together quadratically,
negatives are pushed until their (unsquared) Euclidean distance reaches the margin alpha = 2,
the distance also used at test time. Unlike Hadsell, no 1/2 factor (the paper has none). The
baseline code instead used an unsquared hinge on the distance; that is not what Eq. 10 shows.
"""

from __future__ import annotations

import torch

DEFAULT_MARGIN = 2.0
DISTANCE_EPS = 1e-12  # keeps the gradient of sqrt finite for identical vectors


def contrastive_loss(
    u_a: torch.Tensor, u_b: torch.Tensor, same: torch.Tensor, margin: float = DEFAULT_MARGIN
) -> torch.Tensor:
    """Mean Eq. 10 loss over a batch of sequence pairs.

    Args:
        u_a: features of the first sequences.
        u_b: features of the second sequences.
        same: True where pair i shows one identity (positive pair).
        margin: alpha, the distance beyond which a negative pair costs nothing.

    Returns:
        Scalar: mean over pairs of ||d||^2 (positive) or max(0, alpha - ||d||)^2 (negative).

    Shape:
        u_a, u_b (P, D); same (P,) bool.
    """
    squared = (u_a.float() - u_b.float()).pow(2).sum(dim=1)  # (P,)
    hinge = torch.clamp(margin - torch.sqrt(squared + DISTANCE_EPS), min=0).pow(2)
    return torch.where(same, squared, hinge).mean()
