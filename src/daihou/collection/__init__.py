"""Collections (催收): cases, strategy, work lists, contacts, promises, plans and waivers,
agencies, litigation and write-off. Named ``collection`` so it never shadows the
standard library's ``collections``."""
