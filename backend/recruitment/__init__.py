"""Recruitment and sign-ups: postings, sign-ups that never overbook, waitlists, approval, membership."""
