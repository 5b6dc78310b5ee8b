"""Loading the DLP rules: ``dlp.yaml`` and its recognizer files into a validated policy.

- `source`: where the rules come from (files on disk, or the exact bytes of a
  policy version) and their digest;
- `policy_file`: parsing and validating ``dlp.yaml``, every mistake named by file
  and line (YAML with line numbers from `mas_gateway.policy.yaml_lines`);
- `policy`: the resulting immutable `DLPPolicy` (entities, groups, routes, engine
  settings).
"""
