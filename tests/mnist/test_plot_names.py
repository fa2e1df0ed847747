"""Class names in plots render: CJK names use an installed font that has them, else the class
index -- never empty boxes, never a "Glyph missing" warning per character."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from tiny_data import CHINESE

from mnist import plots
from mnist.report import write_plots
from mnist.metrics import evaluate_logits

NAMES = [c for _, c in CHINESE]


def default_font() -> str:
    from matplotlib import font_manager

    return font_manager.findfont(font_manager.FontProperties())


def last_resort_font() -> str:
    from matplotlib import font_manager

    found = [f.fname for f in font_manager.fontManager.ttflist if "last resort" in f.name.lower()]
    if not found:
        pytest.skip("matplotlib ships no Last Resort font to stand in for a CJK font")
    return found[0]


def test_latin_names_are_kept_with_the_default_font():
    assert plots.display_names(["T-shirt/top", "Bag"]) == (["T-shirt/top", "Bag"], None)


def test_cjk_names_fall_back_to_the_class_index_without_a_cjk_font():
    names, font = plots.display_names(NAMES + ["7"], fonts=[], default_font=default_font())
    assert font is None and names == [str(k) for k in range(15)] + ["7"]


def test_cjk_names_use_an_installed_font_that_has_their_glyphs():
    fonts = [("No Glyphs", default_font()), ("Has Them", last_resort_font())]
    assert plots.display_names(NAMES, fonts=fonts, default_font=default_font()) == (NAMES, "Has Them")


def test_plots_of_chinese_class_names_raise_no_glyph_warnings(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (15, 16, 16), dtype=np.uint8)
    labels = np.arange(15)
    result = evaluate_logits(rng.standard_normal((15, 15)), labels)
    history = [{"epoch": 1, "train_loss": 1.0, "val_loss": 1.1, "train_accuracy": 0.5, "val_accuracy": 0.4}]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph would be a UserWarning
        out = write_plots(tmp_path, history, images, labels, result, NAMES)
    assert all(p.stat().st_size > 1000 for p in out.values())
