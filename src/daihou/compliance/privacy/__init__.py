"""Personal data protection (PIPL, JR/T 0171): encryption at rest, keyed-hash search,
masking, logged reveals, retention. ``crypto`` has no dependency on the loan models, so
``daihou.loans.models`` can use its column type."""
