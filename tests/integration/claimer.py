"""Run as a separate process by test_claim_race: claim the next item N times as one user
and print the ids claimed, as JSON. Usage: python -m tests.integration.claimer USER_ID N"""

import json
import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from accounts.models import User  # noqa: E402
from routing import work_items  # noqa: E402


def main() -> None:
    user_id, attempts, start_at = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    user = User.objects.get(pk=user_id)
    time.sleep(max(0.0, start_at - time.time()))  # both processes start together
    claimed = []
    for _ in range(attempts):
        item = work_items.claim_next(actor=user)
        if item is not None:
            claimed.append(item.pk)
    print(json.dumps(claimed))


if __name__ == "__main__":
    main()
