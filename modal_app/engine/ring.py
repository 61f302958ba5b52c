"""The device→host path of the `yuv420p` pictures: a ring of device buffers that the frame kernel
writes, page-locked host buffers beside them, and — on CUDA — the copies on a stream of their own, so
frame n+1 renders while frame n crosses to the host and frame n−1 is being encoded.

Ordering, on CUDA: the kernel of frame n is recorded as an event on the render stream; the copy
stream waits for that event, copies, and records `copied`; before slot s is written again the render
stream waits for slot s's `copied`. The host side of a slot is reused only after the caller has read it
(`pictures` keeps at most `depth` frames in flight). On the CPU the same calls run in order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator

import warp as wp

DEPTH = 3


class _Slot:
    def __init__(self, device: str, width: int, height: int, cuda: bool):
        self.planes = [wp.zeros((height, width), dtype=wp.uint8, device=device),
                       wp.zeros((height // 2, width // 2), dtype=wp.uint8, device=device),
                       wp.zeros((height // 2, width // 2), dtype=wp.uint8, device=device)]
        # Page-locked host memory where there is a GPU: the copy engine reads it directly, asynchronously.
        self.host = [wp.empty(p.shape, dtype=wp.uint8, device="cpu", pinned=cuda) for p in self.planes]
        self.converted = wp.Event(device) if cuda else None
        self.copied = wp.Event(device) if cuda else None
        self.in_use = False


class YuvRing:
    def __init__(self, device: str, width: int, height: int, depth: int = DEPTH):
        self.device, self.width, self.height = device, width, height
        self.cuda = wp.get_device(device).is_cuda
        self.slots = [_Slot(device, width, height, self.cuda) for _ in range(depth)]
        self.next = 0
        if self.cuda:
            self.render_stream = wp.get_stream(device)
            self.copy_stream = wp.Stream(device)

    @property
    def depth(self) -> int:
        return len(self.slots)

    def submit(self, draw: Callable[[list], None]) -> _Slot:
        """`draw(planes)` launches the frame into the next slot's three planes (on the render stream);
        then the slot's copy to the host starts."""
        slot = self.slots[self.next % len(self.slots)]
        self.next += 1
        if slot.in_use:
            raise RuntimeError("a ring slot was reused before its picture was read")
        slot.in_use = True
        if self.cuda and self.next > len(self.slots):
            self.render_stream.wait_event(slot.copied)  # its previous copy has left the device buffers
        draw(slot.planes)
        if self.cuda:
            self.render_stream.record_event(slot.converted)
            self.copy_stream.wait_event(slot.converted)
            for host, plane in zip(slot.host, slot.planes, strict=True):
                wp.copy(host, plane, stream=self.copy_stream)
            self.copy_stream.record_event(slot.copied)
        else:
            for host, plane in zip(slot.host, slot.planes, strict=True):
                wp.copy(host, plane)
        return slot

    def drain(self) -> None:
        """Waits for every copy started (frames abandoned by a failure or a cancel) and frees the slots,
        so no copy outlives the buffers it reads."""
        if self.cuda:
            wp.synchronize_stream(self.copy_stream)
        for slot in self.slots:
            slot.in_use = False

    def read(self, slot: _Slot) -> bytes:
        """The slot's picture, once its copy has finished; frees the slot."""
        if self.cuda:
            wp.synchronize_event(slot.copied)
        picture = b"".join(h.numpy().tobytes() for h in slot.host)
        slot.in_use = False
        return picture


def pictures(renderer, states: Iterable[tuple[int, object]]) -> Iterator[tuple[int, bytes]]:
    """`(index, yuv420p picture)` for each `(index, scene state)`, in order, with up to the ring's depth
    frames in flight on the device."""
    in_flight: deque = deque()
    for index, state in states:
        in_flight.append((index, renderer.submit_yuv(state)))
        if len(in_flight) >= renderer.ring_depth:
            i, slot = in_flight.popleft()
            yield i, renderer.read_yuv(slot)
    while in_flight:
        i, slot = in_flight.popleft()
        yield i, renderer.read_yuv(slot)
