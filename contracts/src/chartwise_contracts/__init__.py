"""ChartWise contracts: every message that crosses a service boundary, and the names of the streams."""

from chartwise_contracts.envelope import Envelope, new_id, utcnow
from chartwise_contracts.messages import Command, ErrorReply, Event, Message, Query, Reply
from chartwise_contracts.streams import Groups, Queues, Streams, StreamSpec, dead_letter_stream, queue_stream

__all__ = [
    "Command",
    "Envelope",
    "ErrorReply",
    "Event",
    "Groups",
    "Message",
    "Query",
    "Queues",
    "Reply",
    "StreamSpec",
    "Streams",
    "dead_letter_stream",
    "new_id",
    "queue_stream",
    "utcnow",
]
