"""What the inbox tells the layers above it. The inbox stores messages; it does not know
who classifies and routes them (pipeline.receivers connects to these)."""

from django.dispatch import Signal

# Sent after the transaction that stored a new patient message commits; kwargs: message_id,
# and where the sender has them at hand, subject, body and on_chemotherapy (the patient's).
message_received = Signal()

# Sent once after the transaction that stored a batch of new patient messages commits (the
# bulk intake, inbox.services.receive_messages_batch with announce_together), instead of
# message_received for each; kwargs: message_ids, a list in the batch's order.
messages_received = Signal()
