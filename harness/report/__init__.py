"""Reports: one module per output format, each reading the same list of CaseResults."""
