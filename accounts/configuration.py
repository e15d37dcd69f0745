"""The clinic configuration version: what lets a worker keep a clinic's routing
configuration and the active model between messages without ever using a stale one.

Every change to what routes or classifies a clinic's messages sets a new
`Clinic.configuration_version` in the same transaction (`configuration_changed`). A
worker reads the clinic row with each message anyway (joined to the message it locks),
so comparing that version with the one it read its cached configuration under costs no
statement: equal, the cache is current; different, it reads the configuration again.
A rule saved is therefore used by the next message routed after the save commits.
"""

import threading
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from accounts.models import Clinic, new_configuration_version

T = TypeVar("T")


def configuration_changed(*, clinic_id: int | None) -> None:
    """Call inside the transaction of the change. `clinic_id=None`: a change that touches
    every clinic (the active or shadow model)."""
    clinics = Clinic.objects.all() if clinic_id is None else Clinic.objects.filter(pk=clinic_id)
    clinics.update(configuration_version=new_configuration_version())


class PerClinicCache(Generic[T]):
    """One value per clinic, read again whenever the clinic's version differs from the
    one it was read under. Per process; safe across threads (gunicorn --threads)."""

    def __init__(self, load: Callable[[Clinic], T]):
        self._load = load
        self._values: dict[int, tuple[int, T]] = {}
        self._lock = threading.Lock()

    def get(self, clinic: Clinic) -> T:
        with self._lock:
            cached = self._values.get(clinic.pk)
        if cached is not None and cached[0] == clinic.configuration_version:
            return cached[1]
        value = self._load(clinic)
        with self._lock:
            self._values[clinic.pk] = (clinic.configuration_version, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


class AcrossClinicsCache(Generic[T]):
    """One value for every clinic (the active model, the shadow period), read again
    unless every clinic version presented was seen when it was last read. Any change to
    it changes every clinic's version (configuration_changed(clinic_id=None)), so a
    version seen before the last read means no change since then."""

    def __init__(self, load: Callable[[], T]):
        self._load = load
        self._value: tuple[T] | None = None
        self._seen: dict[int, int] = {}
        self._lock = threading.Lock()

    def get(self, clinics: Iterable[Clinic]) -> T:
        versions = {clinic.pk: clinic.configuration_version for clinic in clinics}
        with self._lock:
            current = self._value is not None and all(
                self._seen.get(pk) == version for pk, version in versions.items()
            )
            if current and versions:
                return self._value[0]
        value = self._load()
        with self._lock:
            # Read after every one of these versions was read: current for all of them.
            self._value = (value,)
            self._seen.update(versions)
        return value

    def clear(self) -> None:
        with self._lock:
            self._value, self._seen = None, {}
