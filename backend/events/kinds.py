"""Every kind of outbox event, with the payload it carries: the contract between the domains that
record events and the notifications worker that delivers them (notifications/ maps each kind to a
WeChat subscribe-message template).

Recipients are user ids; the worker turns them into openids. Times are ISO 8601 strings with their
offset; money is integer fen. A payload carries what a message shows, so that rendering it needs no
query into another domain (the worker may still read the database, e.g. for a user's openid).
A kind ending in ``.reminder_due`` carries ``due_at``: it is not delivered before that time.
"""

from __future__ import annotations

from typing import Final

# Party building (backend/partybuilding)
CHECKIN_RECORDED: Final = "checkin.recorded"  # activity_id, title, status, checked_in_at
ACTIVITY_REMINDER_DUE: Final = "activity.reminder_due"  # activity_id, due_at (+ title, starts_at, place)

# Recruitment and sign-ups (backend/recruitment); each payload: posting_id, posting_title,
# organization (name), starts_at, place, signup_id, status, plus what the row names.
SIGNUP_CONFIRMED: Final = "signup.confirmed"
SIGNUP_WAITLISTED: Final = "signup.waitlisted"  # + waitlist_position
SIGNUP_PROMOTED: Final = "signup.promoted"  # from the waitlist to a seat
SIGNUP_PENDING: Final = "signup.pending"  # waiting for the staff's approval
SIGNUP_APPROVED: Final = "signup.approved"
SIGNUP_REJECTED: Final = "signup.rejected"  # + reason
SIGNUP_CANCELLED: Final = "signup.cancelled"  # by the member
POSTING_CANCELLED: Final = "posting.cancelled"  # + reason; recipients: everyone signed up
POSTING_REMINDER_DUE: Final = "posting.reminder_due"  # + due_at; recipients: confirmed sign-ups

# Donation disclosure (backend/charity). donation.recorded and project.progress have no recipients
# yet (recipients == []): donations arrive from payment platforms, and no donor is linked to a user.
# donation.recorded: project_id, project_title, amount_fen, receipt_code, received_at
DONATION_RECORDED: Final = "donation.recorded"
PROJECT_PROGRESS: Final = "project.progress"  # project_id, project_title, summary, published_at
DISCLOSURE_OVERDUE: Final = "disclosure.overdue"  # credit_code, organization, item, due_on; recipients: staff
