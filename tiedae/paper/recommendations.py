r"""The paper's closing table of recommendations, generated from the README's answer table.

The README's section "What the experiments answer" holds one row per question (the post it
comes from in parentheses): the answer and the strength of its evidence. The paper closes with
the same answers, so that the two cannot drift apart: `answer_rows` reads that table and
`recommendations_tex` writes it as a LaTeX table (`figures/tables/recommendations.tex`),
translating the README's Unicode mathematics (Wᵀ, W⁺, σ(ZZᵀ), R², ...) with `markdown_to_tex`.
A character it does not know is an error naming it, never a silently broken PDF.

Example:
  >>> readme = '''## What the experiments answer
  ...
  ... | question (post) | answer | evidence | read more |
  ... | --- | --- | --- | --- |
  ... | Tie as Wᵀ? (004) | Yes, for what it does to W | theorem | `decoders` |
  ... '''
  >>> rows = answer_rows(readme)
  >>> rows[0].question, rows[0].evidence
  ('Tie as Wᵀ? (004)', 'theorem')
  >>> markdown_to_tex("σ(ZZᵀ) in `graph`")
  '$\\sigma$(ZZ$^{\\top}$) in \\texttt{graph}'
"""

from __future__ import annotations

import re
from typing import NamedTuple

from tiedae.report.format import tex_escape

__all__ = ["SECTION", "AnswerRow", "answer_rows", "markdown_to_tex", "recommendations_tex"]

SECTION = "## What the experiments answer"
HEADER = ("question (post)", "answer", "evidence", "read more")

# the README's Unicode, as LaTeX (longest first where one is a prefix of another)
_UNICODE = {
    "⁻¹": "$^{-1}$", "ᵀ": r"$^{\top}$", "⁺": "$^{+}$", "²": "$^{2}$", "ᵢ": "$_{i}$",
    "η": r"$\eta$", "σ": r"$\sigma$", "λ": r"$\lambda$", "≥": r"$\geq$", "≤": r"$\leq$",
    "≈": r"$\approx$", "±": r"$\pm$", "×": r"$\times$", "→": r"$\to$", "√": r"$\surd$",
    "−": "$-$", "–": "--", "—": "---", "’": "'", "…": r"\dots{}",
}
_CODE = re.compile(r"`([^`]*)`")


class AnswerRow(NamedTuple):
    """One row of the README's answer table (Markdown text)."""

    question: str
    answer: str
    evidence: str


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def answer_rows(readme: str) -> list[AnswerRow]:
    """The rows of the first table after the README's `SECTION` heading.

    Raises:
      ValueError: no such section, or its first table lacks the columns `HEADER`.
    """
    if SECTION not in readme:
        raise ValueError(f"the README has no section {SECTION!r}")
    lines = readme.split(SECTION, 1)[1].splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("|")), None)
    if start is None or tuple(_cells(lines[start])) != HEADER:
        raise ValueError(f"the README's section {SECTION!r} must open its table with the "
                         f"columns {' | '.join(HEADER)}")
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = _cells(line)
        if len(cells) != len(HEADER):
            raise ValueError(f"a row of the README's answer table has {len(cells)} cells, "
                             f"not {len(HEADER)}: {line[:60]!r}")
        rows.append(AnswerRow(*cells[:3]))
    return rows


def _plain_to_tex(text: str) -> str:
    text = tex_escape(text)
    for char, tex in _UNICODE.items():
        text = text.replace(char, tex)
    unknown = sorted({c for c in text if ord(c) > 127})
    if unknown:
        raise ValueError(f"no LaTeX for the character(s) {' '.join(unknown)} "
                         f"({', '.join(f'U+{ord(c):04X}' for c in unknown)}) in {text[:60]!r}")
    return text


def markdown_to_tex(text: str) -> str:
    """LaTeX for a README table cell: `code` as \\texttt, the rest escaped, its Unicode
    mathematics as math (`_UNICODE`).

    Raises:
      ValueError: a character with no LaTeX translation (named with its code point).
    """
    parts = _CODE.split(text)  # plain, code, plain, code, ...
    return "".join(_plain_to_tex(part) if i % 2 == 0 else rf"\texttt{{{_plain_to_tex(part)}}}"
                   for i, part in enumerate(parts))


def recommendations_tex(readme: str) -> str:
    """The README's answer table as a booktabs LaTeX tabular, ragged-right columns (the
    manuscript loads `array`): question (post), answer, evidence."""
    rows = answer_rows(readme)
    body = "\n".join(
        f"{markdown_to_tex(r.question)} & {markdown_to_tex(r.answer)} & "
        f"{markdown_to_tex(r.evidence)} \\\\" for r in rows)
    column = ">{\\raggedright\\arraybackslash}p{%s\\linewidth}"  # needs the array package
    return ("\\begin{tabular}{@{}" + "".join(column % w for w in ("0.22", "0.53", "0.19"))
            + "@{}}\n"
            "\\toprule\nQuestion (post) & Answer & Evidence \\\\\n\\midrule\n"
            f"{body}\n\\bottomrule\n\\end{{tabular}}\n")
