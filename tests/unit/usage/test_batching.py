"""Group commit: what arrives while a batch is in flight leaves together, each caller gets its own answer."""

from __future__ import annotations

import asyncio

import pytest

from chartwise_usage.batching import BatchSender


class RecordingSend:
    """Doubles each item; records the batches; holds a batch until released when asked to."""

    def __init__(self, *, hold: bool = False, fail_on: int | None = None) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()
        self.entered = asyncio.Event()
        self._hold = hold
        self._fail_on = fail_on

    async def __call__(self, items: list[int]) -> list[int]:
        self.batches.append(items)
        self.entered.set()
        if self._hold:
            await self.release.wait()
        if self._fail_on in items:
            raise ValueError(f"cannot send {self._fail_on}")
        return [item * 2 for item in items]


async def test_calls_made_in_the_same_turn_leave_in_one_batch_and_each_gets_its_own_answer() -> None:
    send = RecordingSend()
    sender = BatchSender(send, max_batch=100)

    answers = await asyncio.gather(*(sender.submit(i) for i in range(5)))

    assert answers == [0, 2, 4, 6, 8]
    assert send.batches == [[0, 1, 2, 3, 4]]


async def test_a_lone_call_is_sent_at_once_without_waiting_for_company() -> None:
    send = RecordingSend()
    sender = BatchSender(send, max_batch=100)

    assert await sender.submit(21) == 42
    assert await sender.submit(4) == 8
    assert send.batches == [[21], [4]]


async def test_calls_arriving_while_a_batch_is_in_flight_leave_together_in_the_next() -> None:
    send = RecordingSend(hold=True)
    sender = BatchSender(send, max_batch=100)
    first = asyncio.create_task(sender.submit(1))
    await send.entered.wait()

    later = [asyncio.create_task(sender.submit(i)) for i in (2, 3, 4)]
    await asyncio.sleep(0)  # let the later callers queue up behind the batch in flight
    assert send.batches == [[1]]
    send.release.set()

    assert await asyncio.gather(first, *later) == [2, 4, 6, 8]
    assert send.batches == [[1], [2, 3, 4]]


async def test_a_batch_never_holds_more_than_the_maximum() -> None:
    send = RecordingSend()
    sender = BatchSender(send, max_batch=3)

    answers = await asyncio.gather(*(sender.submit(i) for i in range(7)))

    assert answers == [i * 2 for i in range(7)]
    assert send.batches == [[0, 1, 2], [3, 4, 5], [6]]


async def test_a_failed_batch_raises_to_each_of_its_callers_and_the_next_batch_still_goes() -> None:
    send = RecordingSend(fail_on=1)
    sender = BatchSender(send, max_batch=2)

    outcomes = await asyncio.gather(*(sender.submit(i) for i in range(4)), return_exceptions=True)

    assert [type(o) for o in outcomes[:2]] == [ValueError, ValueError]
    assert outcomes[2:] == [4, 6]


async def test_a_caller_that_gave_up_does_not_disturb_the_others_of_its_batch() -> None:
    send = RecordingSend(hold=True)
    sender = BatchSender(send, max_batch=100)
    impatient = asyncio.create_task(sender.submit(1))
    patient = asyncio.create_task(sender.submit(2))
    await send.entered.wait()

    impatient.cancel()
    send.release.set()

    assert await patient == 4
    with pytest.raises(asyncio.CancelledError):
        await impatient
