r"""Bao et al. (2020)'s exact-PCs experiment as released, and the values of their Figure 4.

The `exact-pcs` suite reruns their synthetic experiment with their released configuration
(configs/synth.py, mains/train_synth.py): three methods (`METHODS`: plain training, the
non-uniform L2 penalty sum_i r_i^2 (||W_i||^2 + ||V_:,i||^2) and the rotation-augmented
gradient), two optimizers (`OPTIMIZERS`: SGD with Nesterov momentum 0.9 and Adam) at their step
sizes (`LR`, for d = `THEIR_D`), and their criterion: the iterations until the distance to axis
alignment (1/k) sum_i (1 - max_j cos^2(u_i, v_j)) falls below `TARGET`.

`BAO_FIGURE4` holds the values of their Figure 4 (imgs/fig4_0.3.png in their repository:
epochs to axis distance 0.3 against the hidden dimension k = 2, 5, 10, 20, 50, log-log) as
documented constants, not measurements: read off the image (140 pixels per decade; markers
hidden behind others were located by extrapolating their line segments), approximate to about
10 %. The figure has two line styles per method and no legend for them: one is Adam, the other
SGD with Nesterov momentum. None marks a point drawn as a cross (not converged); a k missing
from a line has no marker in the figure (their dashed RAG line ends at k = 5).

References:
  Bao, Lucas, Sachdeva & Grosse (2020). Regularized linear autoencoders recover the principal
  components, eventually. NeurIPS 33.

Example:
  >>> bao_value("rag", "solid", 2, 1000), bao_value("rag", "dashed", 5, 1000)
  (850.0, inf)
  >>> bao_value("rag", "dashed", 50, 1000) is None  # no point in their figure
  True
  >>> bao_value("nonuniform_l2", "dashed", 50, 1000), bao_value("nonuniform_l2", "solid", 50, 200)
  (6100.0, None)
"""

from __future__ import annotations

import math

METHODS = ("plain", "nonuniform_l2", "rag")
OPTIMIZERS = ("sgd_nesterov", "adam")
TARGET = 0.3  # distance to axis alignment, their Figure 4's criterion
LR = {  # their step sizes (configs/synth.py; plain as their uniform-L2 runs)
    "sgd_nesterov": {"plain": 1e-3, "nonuniform_l2": 1e-3, "rag": 1e-4},
    "adam": {"plain": 3e-3, "nonuniform_l2": 3e-3, "rag": 3e-4},
}
THEIR_D = 1000
# Bao et al. (2020), Figure 4: epochs (= iterations, full batch) to axis distance 0.3 at
# d = 1000, by method, line style (unlabelled: Adam or SGD + Nesterov) and k; None: drawn as a
# cross (did not converge). Read off the published image (see the module docstring).
BAO_FIGURE4 = {
    ("rag", "solid"): {2: 850, 5: 3400, 10: 3400, 20: 3700, 50: 4100},
    ("rag", "dashed"): {2: 2350, 5: None},
    ("nonuniform_l2", "solid"): {2: 125, 5: 800, 10: 3000, 20: 11000, 50: None},
    ("nonuniform_l2", "dashed"): {2: 280, 5: 900, 10: 2400, 20: 3700, 50: 6100},
}
STYLES = ("solid", "dashed")


def bao_value(method: str, style: str, k: int, d: int) -> float | None:
    """Bao et al.'s Figure 4 value for this method, line style and k: a number, inf (drawn as
    not converged), or None when their figure has no such point (or d is not theirs)."""
    table = BAO_FIGURE4.get((method, style), {})
    if d != THEIR_D or k not in table:
        return None
    return math.inf if table[k] is None else float(table[k])
