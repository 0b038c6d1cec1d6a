"""Litigation (诉讼): eligibility, referral, stages, evidence list and costs."""
