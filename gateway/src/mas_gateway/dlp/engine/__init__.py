"""The DLP engine: analysis, scanning and the policy's decisions.

- `engine.DLPEngine` scans payloads and decides (``evaluate``), synchronously;
- `analyzer` builds Presidio's analyzer from the policy; `nlp` is the lean spaCy
  engine behind it; `context` the context-word enhancer;
- `prescreen` and `pattern_set` settle clean text before any analysis;
- `scanner` walks a payload (`payload`), normalises (`normalize`), decodes
  (`decode`), lays the texts out as one document (`document`, `tables`) and maps
  findings back; `results` holds what it finds, never a value;
- `policy_actions` turns findings into the route's actions and redactions;
- `envelope_fields` scans the envelope fields other than ``data``;
- `workers` and `scanning` run scans in worker processes; `shared` keeps one
  engine per set of rules in a process.
"""
