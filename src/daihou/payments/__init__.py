"""Repayment posting, reversal, prepayment, refunds and channels."""
