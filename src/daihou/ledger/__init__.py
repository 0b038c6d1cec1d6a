"""Double-entry journal and balances."""
