"""The ordered registry of suites behind `python -m tiedae.bench` (also the --list order)."""

from tiedae.bench.suite import Suite
from tiedae.bench.suites import (
    conservation,
    conv_capacity,
    conv_decoders,
    decoder_speed,
    decoders,
    exact_pcs,
    features,
    graph,
    nonlinear_tying,
    optimal_decoder,
    peers,
    regularized,
    step_cost,
    symmetry,
)

# The linear theory first, then the questions on symmetric / simple / conv / graph decoders.
# A new suite: import its module above and append its SUITE.
SUITES: list[Suite] = [
    decoders.SUITE,
    decoder_speed.SUITE,
    nonlinear_tying.SUITE,
    conservation.SUITE,
    regularized.SUITE,
    exact_pcs.SUITE,
    optimal_decoder.SUITE,
    step_cost.SUITE,
    peers.SUITE,
    symmetry.SUITE,
    features.SUITE,
    conv_decoders.SUITE,
    conv_capacity.SUITE,
    graph.SUITE,
]

BY_NAME: dict[str, Suite] = {suite.name: suite for suite in SUITES}

__all__ = ["BY_NAME", "SUITES"]
