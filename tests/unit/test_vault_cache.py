"""The secret cache is shared by the dispatcher's threads (one per integration of a batch)."""

from __future__ import annotations

import threading
from typing import Any

from integrations.storage.vault import CredentialVault


class CountingVault(CredentialVault):
    """Reads from memory instead of Secrets Manager, counting the reads."""

    def __init__(self) -> None:
        super().__init__("test/integrations")
        self.reads = 0
        self._reads_lock = threading.Lock()

    def read(self, name: str, version: str | None) -> dict[str, Any]:
        with self._reads_lock:
            self.reads += 1
        return {"credentials": {"name": name}}


def test_threads_reading_and_filling_the_cache_at_once_all_get_their_value() -> None:
    vault = CountingVault()
    failures: list[BaseException] = []
    start = threading.Barrier(10)

    def worker(n: int) -> None:
        start.wait()
        try:
            for i in range(2000):
                name = f"secret-{n}-{i % 50}"
                assert vault.read_cached(name, None) == {"credentials": {"name": name}}
        except BaseException as error:  # e.g. "dictionary changed size during iteration"
            failures.append(error)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert vault.reads == 10 * 50  # each secret read once, then served from the cache
