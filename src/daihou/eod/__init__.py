"""End of day: the system business date and (later) the EOD steps."""
