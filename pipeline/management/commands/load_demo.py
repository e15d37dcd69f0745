import sys

from django.core.management.base import BaseCommand

from pipeline.demo import DEMO_PASSWORD, demo_loaded, demo_logins, load_demo_data
from triage.cli import ensure_active_model


class Command(BaseCommand):
    help = "Load two demo clinics with staff for every role and ~200 routed messages (once)."

    def handle(self, *args, **options):
        if demo_loaded():
            self.stdout.write("Demo data is already loaded.")
        else:
            # Train before any message is stored: a message that meets no model is routed
            # as unclassified (nurse triage, urgent), which is not what a demo should show.
            ensure_active_model(stream=sys.stderr)
            self.stdout.write("Loading demo data...")
            load_demo_data(progress=lambda line: self.stdout.write(f"  {line}"))
            self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        self.stdout.write(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
        for login in demo_logins():
            self.stdout.write(f"  {login.username:<24} {login.role:<10} {login.clinic}")
