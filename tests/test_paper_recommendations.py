"""The paper's closing table comes from the README's answer table (tiedae.paper.recommendations)."""

from pathlib import Path

import pytest

from tiedae.paper.recommendations import (
    SECTION,
    answer_rows,
    markdown_to_tex,
    recommendations_tex,
)

REPO = Path(__file__).resolve().parents[1]
TABLE = f"""{SECTION}

Some text first.

| question (post) | answer | evidence | read more |
| --- | --- | --- | --- |
| Tie as Wᵀ or W⁺? (004) | Wᵀ; η² drift for W⁺ | theorem | `decoders` |
| Simple decoder? (002) | σ(ZZᵀ) − better, R² ≥ 0.5 & 5 % | measured | `graph` |

## Next section
| not | this | table | either |
"""


def test_rows_are_read_from_the_answer_section_only():
    rows = answer_rows(TABLE)
    assert [r.question for r in rows] == ["Tie as Wᵀ or W⁺? (004)", "Simple decoder? (002)"]
    assert [r.evidence for r in rows] == ["theorem", "measured"]


def test_unicode_mathematics_and_specials_become_latex():
    assert markdown_to_tex("Wᵀ W⁺ (W C Wᵀ)⁻¹ η²") == (
        r"W$^{\top}$ W$^{+}$ (W C W$^{\top}$)$^{-1}$ $\eta$$^{2}$")
    assert markdown_to_tex("σ(ZZᵀ) − a & 5 % ≥ b_c") == (
        r"$\sigma$(ZZ$^{\top}$) $-$ a \& 5 \% $\geq$ b\_c")
    assert markdown_to_tex("suites `exact-pcs`, `a_b`") == (
        r"suites \texttt{exact-pcs}, \texttt{a\_b}")


def test_a_character_without_latex_is_named():
    with pytest.raises(ValueError, match=r"U\+2603"):
        markdown_to_tex("a snowman ☃")


def test_table_has_one_line_per_row_and_ascii_only():
    tex = recommendations_tex(TABLE)
    assert tex.isascii() and tex.count(r"\\") == 3  # the header and two rows
    assert r"Tie as W$^{\top}$ or W$^{+}$? (004) & W$^{\top}$" in tex


@pytest.mark.parametrize(("text", "match"), [
    ("# no answers here\n", "has no section"),
    (f"{SECTION}\n\n| a | b |\n| --- | --- |\n", "must open its table with the columns"),
    (f"{SECTION}\n\n| question (post) | answer | evidence | read more |\n"
     "| --- | --- | --- | --- |\n| only | three | cells |\n", "has 3 cells, not 4"),
])
def test_a_readme_without_the_table_is_refused(text, match):
    with pytest.raises(ValueError, match=match):
        answer_rows(text)


def test_the_committed_readme_converts_and_matches_the_paper_table():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    committed = (REPO / "paper" / "figures" / "tables" / "recommendations.tex")
    assert committed.read_text(encoding="utf-8") == recommendations_tex(readme)
