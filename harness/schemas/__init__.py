"""JSON Schemas a suite declares or is checked against: where each lies, whether it is a valid JSON
Schema, whether it keeps OpenAI's strict subset, and readable errors for the suite's own schema.

One package so that ``harness validate``, ``harness run`` and the checks judge a schema by the same
rules: a schema refused here is never sent, and a schema accepted here is what the checks apply.
"""
