"""Products, customers, loans, installments and loan-book import."""
