r"""Table helpers shared by the suites' table makers, and the macros and table that span all
suites (when, with what and where the results were produced; the configurations appendix).

A table maker `<suite>(records)` returns `(macros, tables)`: `macros` maps a macro name (used
in the manuscript as ``\RName``) to its LaTeX body, `tables` maps a fragment name to a
``tabular``. Nothing is typed by hand: every value is read from the records. The linear suites'
makers are in `tiedae.paper.suites`, the deep / conv / graph suites' in
`tiedae.paper.tables_deep`.
"""

from __future__ import annotations

from tiedae.paper import results as R

__all__ = ["camel", "configs_table", "global_macros", "tabular"]


def camel(name: str) -> str:
    """A name made into letters only, for a LaTeX macro name.

    Example:
      >>> camel("right_inverse"), camel("nonuniform_l2")
      ('RightInverse', 'NonuniformLTwo')
    """
    parts = [p for p in "".join(c if c.isalnum() else " " for c in str(name)).split() if p]
    word = "".join(p[:1].upper() + p[1:] for p in parts)
    digits = {"0": "Zero", "1": "One", "2": "Two", "3": "Three", "4": "Four", "5": "Five",
              "6": "Six", "7": "Seven", "8": "Eight", "9": "Nine"}
    return "".join(digits.get(c, c) for c in word)


def tabular(columns: list[str], rows: list[list[str]], align: str | None = None) -> str:
    """A booktabs tabular; cells are LaTeX already (use R.tex_escape for plain text)."""
    align = align or "l" + "r" * (len(columns) - 1)
    lines = [f"\\begin{{tabular}}{{{align}}}", "\\toprule", " & ".join(columns) + r" \\",
             "\\midrule"]
    lines += [" & ".join(row) + r" \\" for row in rows]
    lines += ["\\bottomrule", "\\end{tabular}", ""]
    return "\n".join(lines)


def global_macros(records: dict[str, list[dict]]) -> dict[str, str]:
    """When, with what and where the results were produced (from the records' env)."""
    envs = [rec.get("env", {}) for recs in records.values() for rec in recs]
    stamps = sorted(e["timestamp"] for e in envs if e.get("timestamp"))
    commits = sorted({str(e.get("git_commit")) for e in envs if e.get("git_commit")})

    def first(key):
        vals = sorted({str(e[key]) for e in envs if e.get(key)})
        return R.tex_escape(", ".join(vals)) if vals else r"\textit{unknown}"

    return {
        "RGeneratedOn": R.tex_escape(stamps[-1][:10]) if stamps else r"\textit{unknown}",
        "RGitCommit": R.tex_escape(", ".join(c[:10] for c in commits)) if commits
        else r"\textit{unknown}",
        "RJaxVersion": first("jax"),
        "RDevice": first("device"),
    }


def configs_table(records: dict[str, list[dict]]) -> str:
    """Appendix table: per suite, runs, total wall time and each config key's distinct values."""
    rows = []
    for suite, recs in records.items():
        keys: dict[str, list] = {}
        for rec in recs:
            for key, val in rec["config"].items():
                if val is None:
                    continue
                seen = keys.setdefault(key, [])
                if val not in seen:
                    seen.append(val)
        parts = []
        for key, vals in keys.items():
            shown = ", ".join(str(v) for v in vals[:6]) + (", ..." if len(vals) > 6 else "")
            parts.append(f"{key}: {shown}")
        wall = sum(float(rec.get("wall_time_s") or 0.0) for rec in recs)
        rows.append([R.tex_escape(suite), R.num(len(recs)), R.num(wall, 2),
                     r"\parbox[t]{0.6\linewidth}{\raggedright\footnotesize "
                     + R.tex_escape("; ".join(parts)) + "}"])
    return tabular(["suite", "runs", "wall time (s)", "configurations"], rows, "lrrl")
