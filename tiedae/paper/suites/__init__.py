"""The paper's figures, tables and numbers of each bench suite, one module per suite.

Each module keeps the two contracts of `tiedae.paper.build.MAKERS`: a figure maker
`(records, out_dir) -> Path` writes one PDF; a table maker `records -> (macros, tables)`.
"""
