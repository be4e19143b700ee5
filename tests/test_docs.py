"""The runnable examples in the docstrings of the public modules run and print what they say."""

import doctest
import importlib

import pytest

MODULES = ["tiedae.decoders", "tiedae.pca", "tiedae.metrics", "tiedae.linear", "tiedae.data",
           "tiedae.train", "tiedae.blas"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no runnable example"
    assert result.failed == 0
