"""One module per bench suite: its figures (`(records, out_dir) -> Path`) and its numbers and
tables (`records -> (macros, tables)`), read from the suite's saved records only."""
