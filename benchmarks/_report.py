"""Benchmark reports: markdown results as reStructuredText for the docs."""

import re


def to_rst(markdown):
    """A markdown report's sections as reStructuredText for the docs to
    include: headings (``###`` ones as bold paragraphs), pipe tables as
    list-tables, inline code.  The first
    line (the report's title) is dropped: the page has its own."""
    out, table = [], []

    def flush():
        if not table:
            return
        rows = [
            [cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in table
            if not set(line.replace("|", "").strip()) <= set(":- ")
        ]
        out.extend([".. list-table::", "   :header-rows: 1", ""])
        for row in rows:
            out.append("   * - " + _rst_inline(row[0]))
            out.extend("     - " + _rst_inline(cell) for cell in row[1:])
        out.append("")
        table.clear()

    for line in markdown.splitlines()[1:]:  # the page has its own title
        if line.startswith("|"):
            table.append(line)
            continue
        flush()
        if line.startswith("### "):
            out.append(f"**{_rst_inline(line[4:])}**")
        elif line.startswith("## "):
            title = _rst_inline(line[3:])
            out.extend([title, "~" * len(title)])
        else:
            out.append(_rst_inline(line))
    flush()
    return "\n".join(out).strip() + "\n"


def _rst_inline(text):
    return re.sub(r"(?<!`)`([^`]+)`(?!`)", r"``\1``", text)
