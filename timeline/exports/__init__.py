"""What other tools read: the state and the log as CSV, TimelineJS 3 JSON, PLOVER records.

Each format is written from the JSON contract (`projections.export`,
`timeline.interfaces.render.entry_to_json`), so an export and `--format
json` never disagree about a value. Exports stream: rows and records are
written as the log yields them, not gathered first.
"""
