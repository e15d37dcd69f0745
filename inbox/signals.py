"""What the inbox tells the layers above it. The inbox stores messages; it does not know
who classifies and routes them (pipeline.receivers connects to these)."""

from django.dispatch import Signal

# Sent after the transaction that stored a new patient message commits; kwargs: message_id.
message_received = Signal()
