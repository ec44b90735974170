"""The gunicorn worker `helpline serve` runs: gunicorn's sync worker, which on SIGTERM also
answers the connections already waiting to be accepted before it leaves.

Without this, a restart under load reset every connection still in the listen queue: the
texts in them got no answer at all (six in each of two runs of a test from outside). Once the
queue is empty the worker closes its copy of the socket at once; when the master is stopping
too, the last worker's close ends the listening, so a text sent from then on is refused (Twilio
then tries the fallback URL) instead of queued and reset. On a reload (HUP) the master and the
new workers keep listening. Under a load that never lets the queue empty, up to DRAIN_LIMIT are
answered and the rest are still reset.
"""

from __future__ import annotations

import contextlib
import errno

from gunicorn.workers.sync import SyncWorker

DRAIN_LIMIT = 1000  # connections answered on the way out, at most (a flood must not keep a worker alive)


class DrainingSyncWorker(SyncWorker):
    """A sync worker that empties the listen queue when told to stop."""

    def run(self) -> None:
        super().run()  # returns once SIGTERM has been received and the current request answered
        drained = self.drain()
        self.log.info("worker stopping: answered %d waiting connection(s)", drained)
        for listener in self.sockets:  # this worker's copy of the socket only: on a reload (HUP) the
            with contextlib.suppress(OSError):  # master and the new workers keep listening on theirs
                listener.close()

    def drain(self) -> int:
        """Answer the connections waiting in the listen queue; how many there were."""
        answered = 0
        for listener in self.sockets:
            listener.setblocking(False)
            while answered < DRAIN_LIMIT:
                try:
                    self.accept(listener)
                except OSError as err:
                    if err.errno in (errno.ECONNABORTED, errno.EINTR):
                        continue  # that one gave up; there may be more
                    if err.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINVAL):  # EINVAL: another
                        # worker has already stopped the socket listening
                        self.log.warning("drain: %s", type(err).__name__)
                    break
                answered += 1
        return answered
