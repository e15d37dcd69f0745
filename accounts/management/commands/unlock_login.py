import ipaddress

from django.core.management.base import BaseCommand, CommandError

from accounts import services
from accounts.lockout import normalise_username


class Command(BaseCommand):
    help = (
        "Unlock a username locked out by failed sign-ins (its failures are forgotten), "
        "or with --ip an address locked out by failures over many usernames."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", nargs="?", help="as typed; case does not matter")
        parser.add_argument("--ip", dest="ip_address", help="an IP address to unlock")

    def handle(self, *args, username=None, ip_address=None, **options):
        if not username and not ip_address:
            raise CommandError("Name a USERNAME, or an address with --ip.")
        if ip_address:
            try:
                ip_address = str(ipaddress.ip_address(ip_address))
            except ValueError:
                raise CommandError(f"Not an IP address: {ip_address!r}") from None
        if username:
            cleared = services.unlock_usernames(usernames=[username])
            self.stdout.write(
                f"Cleared {cleared} failed sign-in{'s' if cleared != 1 else ''} "
                f"for username {normalise_username(username)!r}."
            )
        if ip_address:
            cleared = services.unlock_addresses(ip_addresses=[ip_address])
            self.stdout.write(
                f"Cleared {cleared} failed sign-in{'s' if cleared != 1 else ''} "
                f"from address {ip_address}."
            )
